import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type Chromium } from '@catalogue/testing/browser';
import { measureListingBytes } from '@catalogue/testing/measure';
import { startStack, type Stack } from './support/stack.ts';

/**
 * A shopper's and an admin's Chromium (Debian's, /usr/bin/chromium) against the BUILT
 * storefront and a real API on an embedded PostgreSQL holding the 10,000-product demo catalogue.
 */
const PAGE_SIZE = 24;
const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let stack: Stack;
let chromium: Chromium;
/** A department with more than five pages of products. */
let category: { slug: string; name: string; product_count: number };

interface Summary {
  id: number;
  slug: string;
  sku: string;
  name: string;
  brand: string | null;
  price: { amount: number };
  in_stock: boolean;
  stock: number;
}

const apiJson = async <T>(path: string, init?: RequestInit) =>
  (await (await fetch(`${stack.api}${path}`, init)).json()) as T;
const shownIds = (page: Page) =>
  page.locator('[data-product-id]').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-product-id'))));
const openPage = async (context: BrowserContext) => context.pages()[0] ?? (await context.newPage());

beforeAll(async () => {
  stack = await startStack({ products: 10_000 });
  chromium = launchChromium();
  const tree = await apiJson<{ data: { slug: string; name: string; depth: number; product_count: number }[] }>(
    '/v1/categories',
  );
  category = tree.data.find((c) => c.depth === 0 && c.product_count > PAGE_SIZE * 6)!;
});

afterAll(async () => {
  await chromium?.close();
  await stack?.stop();
});

describe('shopper', () => {
  it('browses 5 pages of a category forward and back: the right products, none repeated, each URL reproducing its page', async () => {
    // What the API says the five pages are.
    const expected: number[][] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 5; i += 1) {
      const page: { data: Summary[]; next_cursor: string | null } = await apiJson(
        `/v1/products?category=${category.slug}&limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expected.push(page.data.map((p) => p.id));
      cursor = page.next_cursor;
    }

    const page = await openPage(await chromium.context());
    await page.goto(`${stack.web}/c/${category.slug}`);
    const seen: { url: string; ids: number[] }[] = [{ url: page.url(), ids: await shownIds(page) }];
    for (let i = 1; i < 5; i += 1) {
      await page.locator('a[rel="next"]').click();
      await page.waitForURL((url) => url.toString() !== seen.at(-1)!.url);
      seen.push({ url: page.url(), ids: await shownIds(page) });
    }
    expect(seen.map((s) => s.ids)).toEqual(expected);
    const all = seen.flatMap((s) => s.ids);
    expect(new Set(all).size).toBe(PAGE_SIZE * 5);
    expect(await page.locator('[data-testid="count"]').textContent()).toContain(
      new Intl.NumberFormat('en').format(category.product_count),
    );

    // Back, page by page, with rel="prev" (its own cursor: the URL differs, the page does not).
    for (let i = 3; i >= 0; i -= 1) {
      const from = page.url();
      await page.locator('a[rel="prev"]').click();
      await page.waitForURL((url) => url.toString() !== from);
      expect(await shownIds(page)).toEqual(seen[i]!.ids);
    }

    // The URL alone reproduces each page, in another browser with JavaScript off.
    const other = await openPage(await chromium.context({ javaScriptEnabled: false }));
    for (const { url, ids } of seen) {
      await other.goto(url);
      expect(await shownIds(other)).toEqual(ids);
    }
  });

  for (const javaScriptEnabled of [true, false]) {
    it(`filters and sorts with a GET form, and a reload shows the same page (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async () => {
      const page = await openPage(await chromium.context({ javaScriptEnabled }));
      await page.goto(`${stack.web}/c/${category.slug}`);
      await page.locator('summary', { hasText: 'Filters' }).click();
      await page.getByLabel('Sort by').selectOption('price_asc');
      const brands = page.locator('input[name="brand"]');
      const brand = (await brands.nth(0).getAttribute('value'))!;
      const second = (await brands.nth(1).getAttribute('value'))!;
      await brands.nth(0).check();
      await brands.nth(1).check();
      await page.getByLabel('Minimum price (EUR)').fill('5');
      await page.getByLabel('Maximum price (EUR)').fill('500');
      await page.getByLabel('In stock only').check();
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/sort=price_asc/);

      const url = new URL(page.url());
      expect(url.searchParams.getAll('brand')).toEqual([brand, second]);
      expect(url.searchParams.get('min')).toBe('5');
      expect(url.searchParams.get('in_stock')).toBe('true');
      const ids = await shownIds(page);
      expect(ids.length).toBeGreaterThan(0);
      // The API's own answer for the same filters (minor units), in the same order.
      const params = new URLSearchParams({
        category: category.slug,
        sort: 'price_asc',
        min_price: '500',
        max_price: '50000',
        in_stock: 'true',
        limit: String(PAGE_SIZE),
      });
      params.append('brand', brand);
      params.append('brand', second);
      const expected = await apiJson<{ data: Summary[] }>(`/v1/products?${params}`);
      expect(ids).toEqual(expected.data.map((p) => p.id));
      expect(expected.data.every((p) => [brand, second].includes(p.brand!) && p.in_stock)).toBe(true);

      await page.reload();
      expect(page.url()).toBe(url.toString());
      expect(await shownIds(page)).toEqual(ids);
      // The form shows the state it came from.
      expect(await page.getByLabel('Sort by').inputValue()).toBe('price_asc');
      expect(await page.getByLabel('In stock only').isChecked()).toBe(true);
    });
  }

  it('searches with a typo, says what it searched for, and opens the product found; facets narrow the results', async () => {
    const page = await openPage(await chromium.context());
    await page.goto(`${stack.web}/`);
    const search = page.getByRole('searchbox', { name: 'Search the catalogue' });
    await search.fill('chiar');
    await search.press('Enter');
    await page.waitForURL(/\/search\?q=chiar/);
    await expect.poll(() => page.locator('.corrected').textContent()).toContain('chair');
    const first = page.locator('[data-product-id] h2 a').first();
    expect(await first.locator('mark').first().textContent()).toMatch(/chair/i);
    const name = (await first.textContent())!.trim();
    await first.click();
    await page.waitForURL(/\/p\//);
    expect((await page.locator('h1').textContent())!.trim()).toBe(name);

    // A broad search, then a brand facet, then availability: each link narrows the hits.
    await page.goto(`${stack.web}/search?q=shirt`);
    const count = async () => Number((await page.locator('[data-testid="count"]').textContent())!.replace(/\D/g, ''));
    const all = await count();
    const brandFacet = page.locator('[data-facet="brand"] a').first();
    const brand = (await brandFacet.textContent())!.trim();
    await brandFacet.click();
    await page.waitForURL(/brand=/);
    const byBrand = await count();
    expect(byBrand).toBeLessThan(all);
    expect(await page.locator('[data-product-id] .brand').allTextContents()).toEqual(
      Array(Math.min(byBrand, PAGE_SIZE)).fill(brand),
    );
    await page.locator('[data-facet="availability"] a', { hasText: 'In stock' }).click();
    await page.waitForURL(/in_stock=true/);
    expect(await count()).toBeLessThanOrEqual(byBrand);
    expect(await page.locator('[data-product-id] .out').count()).toBe(0);
  });

  it('suggests products as the shopper types: debounced, one small request at a time', async () => {
    const page = await openPage(await chromium.context());
    await page.goto(`${stack.web}/`);
    const asked: string[] = [];
    page.on('request', (request) => request.url().includes('/search/suggest') && asked.push(request.url()));
    await page.getByRole('searchbox').pressSequentially('chair', { delay: 20 });
    const suggestion = page.locator('.suggestions a').first();
    await suggestion.waitFor();
    // Five keystrokes in under 150 ms each: one request, for the whole word.
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain('q=chair');
    expect(await page.locator('.suggestions a').count()).toBeLessThanOrEqual(5);
    await suggestion.click();
    await page.waitForURL(/\/p\//);
  });

  it('speaks French from Accept-Language, and English once switched', async () => {
    const page = await openPage(await chromium.context({ locale: 'fr-FR' }));
    await page.goto(`${stack.web}/c/${category.slug}`);
    expect(await page.locator('html').getAttribute('lang')).toBe('fr');
    expect(await page.locator('.price').first().textContent()).toMatch(/^\d[\d\s\u202f]*,\d\d\s€$/);
    await page.getByRole('link', { name: 'English' }).click();
    await page.waitForURL(`${stack.web}/c/${category.slug}`);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('.price').first().textContent()).toMatch(/^€\d/);
  });

  it('keeps the language switch on this site, and tells caches the language varies', async () => {
    const response = await fetch(`${stack.web}//evil.example/?lang=fr`, { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/evil.example/');
    expect(response.headers.get('set-cookie')).toMatch(/^lang=fr;.*HttpOnly/i);
    expect((await fetch(`${stack.web}/products`)).headers.get('vary')).toContain('Accept-Language');
  });

  it('answers an unknown page with a 404 that keeps the way back, and a stale page link with the first page', async () => {
    const page = await openPage(await chromium.context());
    expect((await page.goto(`${stack.web}/p/no-such-product`))!.status()).toBe(404);
    expect(await page.getByRole('searchbox').count()).toBeGreaterThan(0);
    expect(await page.getByRole('link', { name: 'Back to the home page' }).getAttribute('href')).toBe('/');
    expect((await page.goto(`${stack.web}/c/${category.slug}?sort=price_desc&cursor=edited`))!.status()).toBe(400);
    await page.getByRole('link', { name: 'Back to the first page' }).click();
    await page.waitForURL(`${stack.web}/c/${category.slug}?sort=price_desc`);
    expect(await shownIds(page)).toHaveLength(PAGE_SIZE);
  });
});

describe('admin', () => {
  const signIn = async (page: Page, key: string) => {
    await page.goto(`${stack.web}/admin`);
    await page.waitForURL(/\/admin\/login/);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const liveStock = async (id: number) =>
    (
      await apiJson<{ data: { stock_after: number }[] }>(`/v1/products/${id}/stock-movements?limit=1`, {
        headers: { authorization: `Bearer ${stack.adminKey}` },
      })
    ).data[0]!.stock_after;

  it('refuses a wrong key, and keeps a right one only in an httpOnly, SameSite=Strict cookie for /admin', async () => {
    const context = await chromium.context();
    const page = await openPage(context);
    await signIn(page, 'cat_wrong_key');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('refused');
    expect(page.url()).toContain('/admin/login');
    expect(await context.cookies()).toEqual([]);

    await signIn(page, stack.adminKey);
    await page.waitForURL(`${stack.web}/admin`);
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'admin_key');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });
    expect(await page.content()).not.toContain(stack.adminKey);
    expect(
      await page.evaluate(
        () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie,
      ),
    ).not.toContain('cat_');
    const response = await page.goto(`${stack.web}/admin`);
    expect(response!.headers()['cache-control']).toBe('private, no-store');
    expect(response!.headers()['x-robots-tag']).toContain('noindex');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login/);
    expect((await context.cookies()).filter((c) => c.name === 'admin_key')).toEqual([]);
  });

  it('changes stock, shown on the storefront; a second admin holding a stale value is told and overwrites nothing', async () => {
    const [product] = (
      await apiJson<{ data: Summary[] }>(`/v1/products?category=${category.slug}&in_stock=true&limit=1`)
    ).data;
    const before = await liveStock(product!.id);

    // Two admins, two browsers, the same product on screen.
    const first = await openPage(await chromium.context());
    const second = await openPage(await chromium.context());
    for (const page of [first, second]) {
      await signIn(page, stack.adminKey);
      await page.waitForURL(`${stack.web}/admin`);
      // One finds it by slug, the other by SKU.
      await page.getByLabel('Name, SKU, id or slug').fill(page === first ? product!.slug : product!.sku);
      await page.getByRole('button', { name: 'Find' }).click();
      await page.locator(`tr[data-product-id="${product!.id}"] a`).click();
      await page.waitForURL(`${stack.web}/admin/products/${product!.id}`);
      expect(await page.getByTestId('stock').textContent()).toContain(String(before));
    }

    await first.getByLabel('New stock level').fill(String(before + 7));
    await first.locator('#set-reason').fill('stock take');
    await first.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => first.getByTestId('message').textContent()).toContain(`now ${before + 7}`);
    expect(await liveStock(product!.id)).toBe(before + 7);

    // The shop shows it (the API may reuse a public answer for up to a second).
    await expect
      .poll(
        async () => {
          await first.goto(`${stack.web}/p/${product!.slug}`);
          return first.getByTestId('availability').textContent();
        },
        { timeout: 5_000 },
      )
      .toContain(String(before + 7));

    // The second admin still shows `before` and sets another level: refused, with the value now.
    await second.getByLabel('New stock level').fill(String(before + 3));
    await second.locator('#set-reason').fill('recount');
    await second.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => second.getByRole('alert').textContent()).toContain(`now ${before + 7}`);
    expect(await liveStock(product!.id)).toBe(before + 7);
    await expect.poll(() => second.getByTestId('stock').textContent()).toContain(String(before + 7));

    // An adjustment sent twice from one rendering of the form applies once (its Idempotency-Key).
    await second.getByLabel('Units to add (negative to take away)').fill('2');
    await second.locator('#adjust-reason').fill('delivery');
    await second.locator('form[action="?/adjust"]').evaluate((form: HTMLFormElement) => {
      form.requestSubmit();
      form.requestSubmit();
    });
    await expect.poll(() => liveStock(product!.id)).toBe(before + 9);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await liveStock(product!.id)).toBe(before + 9);

    // Below zero: refused, with the stock now.
    await second.getByLabel('Units to add (negative to take away)').fill(String(-(before + 1000)));
    await second.locator('#adjust-reason').fill('too many');
    await second.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => second.getByRole('alert').textContent()).toContain('below zero');
    expect(await liveStock(product!.id)).toBe(before + 9);
    // The ledger, newest first.
    expect(await second.locator('tbody tr').first().textContent()).toContain('delivery');
  });
});

describe('quality', () => {
  it('has no serious or critical accessibility violations (axe-core) on any page', async () => {
    const context = await chromium.context();
    const page = await openPage(context);
    const [product] = (await apiJson<{ data: Summary[] }>('/v1/products?limit=1')).data;
    const pages = [
      '/',
      `/c/${category.slug}?sort=price_asc&in_stock=true`,
      `/p/${product!.slug}`,
      '/search?q=chiar',
      '/no-such-page',
      '/admin/login',
      '/admin?q=chair',
      `/admin/products/${product!.id}`,
    ];
    const source = await axeSource;
    const found: Record<string, string[]> = {};
    for (const path of pages) {
      if (path === '/admin?q=chair') {
        await page.getByLabel('API key').fill(stack.adminKey);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(`${stack.web}/admin`);
      }
      await page.goto(`${stack.web}${path}`);
      await page.evaluate(source);
      const violations = await page.evaluate(async () => {
        const axe = (
          window as unknown as {
            axe: {
              run: () => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
            };
          }
        ).axe;
        const { violations } = await axe.run();
        return violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      });
      found[path] = violations;
    }
    expect(found).toEqual(Object.fromEntries(pages.map((p) => [p, []])));
  });

  it('keeps a listing page within its byte budgets on the wire (images excluded)', async () => {
    const bytes = await measureListingBytes(stack.web, { path: `/c/${category.slug}`, nextPages: 4 });
    console.log(`listing bytes on the wire (10,000 products): ${JSON.stringify(bytes)}`);
    expect(bytes.nextPages).toHaveLength(4);
    expect(bytes.firstLoad).toBeLessThanOrEqual(150 * 1024);
    expect(bytes.firstLoadJs).toBeLessThanOrEqual(60 * 1024);
    for (const next of bytes.nextPages) expect(next).toBeLessThanOrEqual(40 * 1024);
  });
});
