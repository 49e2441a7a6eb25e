import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNode, waitFor, type Running } from '@catalogue/testing/process';
import { launchChromium, type Chromium } from '@catalogue/testing/browser';

/**
 * What docs/security.md promises of the storefront, against the BUILT storefront and a real API
 * (embedded PostgreSQL), each started here as its own process so that their output is captured:
 * the admin cookie's flags, CSRF refusals, the security headers and CSP, and no key in any log.
 */

const EVIL = 'https://evil.example';
const SHOP = 'https://shop.example';
const METRICS_TOKEN = 'metrics-token-for-the-security-test';
const EIGHT_HOURS = 8 * 60 * 60;

interface Storefront {
  url: string;
  process: Running;
}

let dataDir: string;
let api: { url: string; process: Running };
const storefronts: Storefront[] = [];
/** The storefront at its own http origin (ORIGIN=http://127.0.0.1:port), the one most tests use. */
let web: string;
let adminKey: string;
const keys = { stock: '', noScope: '', revoked: '' };
let product: { id: number; slug: string };
let category: string;
let chromium: Chromium | undefined;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function apiJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${api.url}${path}`, init);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const createKey = async (name: string, scopes: string[]) =>
  await apiJson<{ id: number; key: string }>('/v1/keys', {
    method: 'POST',
    headers: { ...bearer(adminKey), 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes }),
  });

/** The product's stock as the API holds it now (read with a key: never cached). */
const stockNow = async () =>
  (await apiJson<{ data: { stock: number }[] }>(`/v1/stock-levels?id=${product.id}`, { headers: bearer(adminKey) }))
    .data[0]!.stock;

/** The built storefront as its own process, in front of the API, with the environment given. */
async function startStorefront(env: Record<string, string>): Promise<Storefront> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const running = startNode(['web/server/index.js'], {
    PORT: String(port),
    HOST: '127.0.0.1',
    API_URL: api.url,
    ...env,
  });
  const storefront = { url, process: running };
  storefronts.push(storefront);
  await waitFor(`${url}/robots.txt`, 60_000, running);
  return storefront;
}

async function stop(running: Running) {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), 15_000);
  await running.exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'catalogue-security-'));
  const port = await freePort();
  api = {
    url: `http://127.0.0.1:${port}`,
    // As scripts/start.mjs runs it, logging everything it can.
    process: startNode(['--import', 'tsx', 'api/src/server.ts'], {
      DATA_DIR: dataDir,
      API_PORT: String(port),
      SEED_PRODUCTS: '60',
      LOG_LEVEL: 'trace',
      TRUST_PROXY: '127.0.0.1,::1',
      METRICS_TOKEN,
    }),
  };
  await waitFor(`${api.url}/readyz`, 120_000, api.process);
  for (let tries = 0; !/cat_\S+/.test(api.process.output()) && tries < 200; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  adminKey = api.process.output().match(/cat_\S+/)![0];

  keys.stock = (await createKey('stock admin', ['stock:write'])).key;
  keys.noScope = (await createKey('catalogue writer', ['catalog:write'])).key;
  const revoked = await createKey('revoked', ['stock:write']);
  keys.revoked = revoked.key;
  await fetch(`${api.url}/v1/keys/${revoked.id}`, { method: 'DELETE', headers: bearer(adminKey) });

  const listed = await apiJson<{ data: { id: number; slug: string; category: { slug: string } | null }[] }>(
    '/v1/products?limit=1',
  );
  product = { id: listed.data[0]!.id, slug: listed.data[0]!.slug };
  category = (await apiJson<{ data: { slug: string }[] }>('/v1/categories')).data[0]!.slug;

  const port2 = await freePort();
  web = `http://127.0.0.1:${port2}`;
  const running = startNode(['web/server/index.js'], {
    PORT: String(port2),
    HOST: '127.0.0.1',
    API_URL: api.url,
    ORIGIN: web,
  });
  storefronts.push({ url: web, process: running });
  await waitFor(`${web}/robots.txt`, 60_000, running);
});

afterAll(async () => {
  await chromium?.close();
  for (const storefront of storefronts) await stop(storefront.process);
  if (api) await stop(api.process);
  await rm(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

type Fields = Record<string, string>;
type Encoding = 'urlencoded' | 'multipart' | 'text/plain' | 'json';

/** A POST as a browser's form (or a script) would send it, the redirect not followed. */
function post(
  url: string,
  {
    fields = {},
    encoding = 'urlencoded',
    origin,
    cookie,
    headers = {},
  }: {
    fields?: Fields;
    encoding?: Encoding;
    /** The Origin header; null: none at all. */
    origin: string | null;
    cookie?: string;
    headers?: Record<string, string>;
  },
) {
  // A browser's form navigation asks for HTML (without it SvelteKit answers as to use:enhance, in JSON).
  const sent: Record<string, string> = { accept: 'text/html', ...headers };
  if (origin !== null) sent.origin = origin;
  if (cookie) sent.cookie = cookie;
  let body: BodyInit;
  if (encoding === 'multipart') {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    body = form; // fetch writes multipart/form-data with its boundary
  } else if (encoding === 'urlencoded') {
    body = new URLSearchParams(fields);
  } else if (encoding === 'text/plain') {
    sent['content-type'] = 'text/plain';
    body = Object.entries(fields)
      .map(([name, value]) => `${name}=${value}`)
      .join('\r\n');
  } else {
    sent['content-type'] = 'application/json';
    body = JSON.stringify(fields);
  }
  return fetch(url, { method: 'POST', headers: sent, body, redirect: 'manual' });
}

/** A Set-Cookie header's name, value and attributes (names lower-cased). */
function parseSetCookie(header: string) {
  const [pair, ...attributes] = header.split(';').map((part) => part.trim());
  const [name, ...value] = pair!.split('=');
  const attrs = Object.fromEntries(
    attributes.map((a) => {
      const [key, ...rest] = a.split('=');
      return [key!.toLowerCase(), rest.join('=') || true];
    }),
  ) as Record<string, string | true>;
  return { name: name!, value: decodeURIComponent(value.join('=')), attrs };
}

const adminCookies = (response: Response) =>
  response.headers
    .getSetCookie()
    .map(parseSetCookie)
    .filter((c) => c.name === 'admin_key');

async function signIn(storefront: string, key: string, origin = storefront, headers: Record<string, string> = {}) {
  const response = await post(`${storefront}/admin/login`, { fields: { key }, origin, headers });
  return { response, cookies: adminCookies(response) };
}

/** A signed-in admin's cookie header, through the real login form. */
async function session(key = keys.stock) {
  const { response, cookies } = await signIn(web, key);
  expect(response.status).toBe(303);
  return `admin_key=${encodeURIComponent(cookies[0]!.value)}`;
}

/** The part of a key that is secret (past `cat_<prefix>_`). */
const secretPart = (key: string) => key.split('_').slice(2).join('_');

// ---------------------------------------------------------------------------------------------

describe('the admin cookie', () => {
  it('holds the key HttpOnly, SameSite=Strict, for /admin only, for 8 hours; not Secure over http', async () => {
    const { response, cookies } = await signIn(web, keys.stock);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/admin');
    expect(cookies).toHaveLength(1);
    const [cookie] = cookies;
    expect(cookie!.value).toBe(keys.stock);
    expect(cookie!.attrs).toMatchObject({
      httponly: true,
      samesite: 'Strict',
      path: '/admin',
      'max-age': String(EIGHT_HOURS),
    });
    // A Secure cookie is never sent back over http: the storefront would lose its admin at once.
    expect(cookie!.attrs.secure).toBeUndefined();
    expect(cookie!.attrs.domain).toBeUndefined();
  });

  it('is Secure when the storefront is served over https (ORIGIN=https://…)', async () => {
    const shop = await startStorefront({ ORIGIN: SHOP });
    const { response, cookies } = await signIn(shop.url, keys.stock, SHOP);
    expect(response.status).toBe(303);
    expect(cookies[0]!.attrs).toMatchObject({ secure: true, httponly: true, samesite: 'Strict', path: '/admin' });
    // Its own http address is another origin to it: a form posted there is refused.
    expect((await signIn(shop.url, keys.stock, shop.url)).response.status).toBe(403);
  });

  it('is Secure when the proxy says the request came over https (PROTOCOL_HEADER, HOST_HEADER)', async () => {
    const proxied = await startStorefront({ PROTOCOL_HEADER: 'x-forwarded-proto', HOST_HEADER: 'x-forwarded-host' });
    const over = (proto: string) => ({ 'x-forwarded-proto': proto, 'x-forwarded-host': 'shop.example' });
    const https = await signIn(proxied.url, keys.stock, SHOP, over('https'));
    expect(https.response.status).toBe(303);
    expect(https.cookies[0]!.attrs.secure).toBe(true);
    const http = await signIn(proxied.url, keys.stock, 'http://shop.example', over('http'));
    expect(http.response.status).toBe(303);
    expect(http.cookies[0]!.attrs.secure).toBeUndefined();
  });

  it('is not set for a wrong, revoked or unscoped key', async () => {
    const wrong = `${keys.stock.slice(0, -4)}AAAA`;
    for (const [key, status] of [
      [wrong, 401],
      [keys.revoked, 401],
      ['not a key at all', 401],
      [keys.noScope, 403],
    ] as const) {
      const { response, cookies } = await signIn(web, key);
      expect(response.status, key).toBe(status);
      expect(cookies, key).toEqual([]);
      // The page that says so does not repeat the key typed.
      expect(await response.text()).not.toContain(key);
    }
  });

  it('is cleared by signing out: same name and path, Max-Age=0', async () => {
    const cookie = await session();
    const response = await post(`${web}/admin/logout`, { origin: web, cookie });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/admin/login');
    const [cleared] = adminCookies(response);
    expect(cleared).toMatchObject({ value: '', attrs: { 'max-age': '0', path: '/admin', httponly: true } });
  });

  it('never puts the key in a page, a page’s data, a header or a redirect', async () => {
    const cookie = await session();
    const pages = [
      '/admin',
      '/admin?q=a',
      `/admin?q=${product.id}`,
      `/admin/products/${product.id}`,
      '/admin/__data.json?q=a',
      `/admin/products/${product.id}/__data.json`,
      '/admin/login',
    ];
    for (const path of pages) {
      const response = await fetch(`${web}${path}`, { headers: { cookie }, redirect: 'manual' });
      expect(response.status, path).toBeLessThan(400);
      const text = await response.text();
      expect(text.length, path).toBeGreaterThan(0);
      expect(text, path).not.toContain(secretPart(keys.stock));
      const headers = [...response.headers].filter(([name]) => name !== 'set-cookie').map(([n, v]) => `${n}: ${v}`);
      expect(headers.join('\n'), path).not.toContain(secretPart(keys.stock));
    }
    // An admin page found a product: proof the key was used, while staying out of the page.
    const found = await (await fetch(`${web}/admin?q=${product.id}`, { headers: { cookie } })).text();
    expect(found).toContain(`/admin/products/${product.id}`);
  });
});

describe('CSRF: cross-site form posts to the admin are refused', () => {
  const ENCODINGS = ['urlencoded', 'multipart', 'text/plain'] as const;
  /** No Origin at all, the opaque `null` of a sandboxed frame, another site, a look-alike. */
  const FOREIGN: (string | null)[] = [EVIL, null, 'null', 'http://127.0.0.1.evil.example'];

  it('refuses login, logout, set and adjust from another origin (403), in every form encoding, changing nothing', async () => {
    const cookie = await session();
    const before = await stockNow();
    const forms: { name: string; path: string; fields: Fields }[] = [
      { name: 'login', path: '/admin/login', fields: { key: keys.stock } },
      { name: 'logout', path: '/admin/logout', fields: {} },
      {
        name: 'set',
        path: `/admin/products/${product.id}?/set`,
        fields: { stock: '0', expected: String(before), reason: 'csrf' },
      },
      {
        name: 'adjust',
        path: `/admin/products/${product.id}?/adjust`,
        fields: { delta: '-1', reason: 'csrf', idempotency_key: `csrf-${Date.now()}` },
      },
    ];
    let refused = 0;
    for (const form of forms) {
      for (const encoding of ENCODINGS) {
        for (const origin of FOREIGN) {
          const response = await post(`${web}${form.path}`, { fields: form.fields, encoding, origin, cookie });
          const what = `${form.name} ${encoding} from ${origin}`;
          expect(response.status, what).toBe(403);
          expect(await response.text(), what).toBe('Cross-site POST form submissions are forbidden');
          // Neither signed in (login CSRF) nor out (logout CSRF).
          expect(response.headers.getSetCookie(), what).toEqual([]);
          refused += 1;
        }
      }
    }
    expect(refused).toBe(forms.length * ENCODINGS.length * FOREIGN.length);
    expect(await stockNow()).toBe(before);
    // The session survived the forged logouts.
    const page = await fetch(`${web}/admin/products/${product.id}`, { headers: { cookie }, redirect: 'manual' });
    expect(page.status).toBe(200);
  });

  it('refuses a JSON body to a form action from anywhere (415): it is not a form', async () => {
    const cookie = await session();
    const before = await stockNow();
    for (const origin of [EVIL, web]) {
      const response = await post(`${web}/admin/products/${product.id}?/set`, {
        fields: { stock: '1', expected: String(before), reason: 'json' },
        encoding: 'json',
        origin,
        cookie,
      });
      expect(response.status, String(origin)).toBe(415);
    }
    expect(await stockNow()).toBe(before);
  });

  it('applies the same forms from the storefront’s own origin', async () => {
    const cookie = await session();
    const before = await stockNow();
    const set = await post(`${web}/admin/products/${product.id}?/set`, {
      fields: { stock: String(before + 7), expected: String(before), reason: 'same origin' },
      origin: web,
      cookie,
    });
    expect(set.status).toBe(200);
    expect(await stockNow()).toBe(before + 7);
    const adjust = await post(`${web}/admin/products/${product.id}?/adjust`, {
      fields: { delta: '-2', reason: 'same origin', idempotency_key: `same-origin-${Date.now()}` },
      encoding: 'multipart',
      origin: web,
      cookie,
    });
    expect(adjust.status).toBe(200);
    expect(await stockNow()).toBe(before + 5);
    const out = await post(`${web}/admin/logout`, { origin: web, cookie });
    expect(adminCookies(out)[0]?.attrs['max-age']).toBe('0');
  });
});

describe('security headers', () => {
  /** Every directive of a CSP header, by name. */
  const directives = (csp: string) =>
    Object.fromEntries(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((d) => d[0])
        .map(([name, ...values]) => [name!, values]),
    ) as Record<string, string[]>;
  const inlineScripts = (html: string) =>
    [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

  it('sends a CSP whose hashes let exactly the page’s own inline scripts run, with frame-ancestors none, on every page', async () => {
    const cookie = await session();
    const pages = [
      '/',
      `/c/${category}`,
      `/p/${product.slug}`,
      '/search?q=a',
      '/products',
      '/no-such-page',
      '/admin/login',
      '/admin',
      `/admin/products/${product.id}`,
    ];
    for (const path of pages) {
      const response = await fetch(`${web}${path}`, { headers: path.startsWith('/admin') ? { cookie } : {} });
      expect(response.headers.get('content-type'), path).toMatch(/^text\/html/);
      const html = await response.text();
      const csp = directives(response.headers.get('content-security-policy') ?? '');
      expect(csp, path).toMatchObject({
        'default-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'style-src': ["'self'"],
        'connect-src': ["'self'"],
      });
      // Scripts: this origin's files, and the inline scripts of this very page by their hashes.
      const scripts = inlineScripts(html);
      expect(scripts.length, path).toBeGreaterThan(0);
      expect(csp['script-src'], path).toEqual(["'self'", ...new Set(scripts.map(sha256))]);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('referrer-policy'), path).toBe('strict-origin-when-cross-origin');
    }
  });

  it('sends nosniff and the referrer policy on what is not a page (images, suggestions)', async () => {
    const html = await (await fetch(`${web}/`)).text();
    const image = html.match(/<img src="([^"]+)"/)![1]!;
    for (const path of [image, '/search/suggest?q=a']) {
      const response = await fetch(`${web}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('referrer-policy'), path).toBe('strict-origin-when-cross-origin');
    }
  });
});

describe('XSS: catalogue text is shown as text', () => {
  /** Markup a catalogue writer (a partner's key with catalog:write) could put in a product. */
  const NAME = `Zyxwvut <img src=x onerror="document.title='xss'"> <script>document.title='xss'</script>`;
  let slug: string;

  beforeAll(async () => {
    slug = `zyxwvut-${Date.now()}`;
    await apiJson('/v1/products', {
      method: 'POST',
      headers: { ...bearer(adminKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        sku: `XSS-${Date.now()}`,
        slug,
        name: NAME,
        description: '<svg onload="document.title=\'xss\'"></svg> "quoted" & \'single\'',
        brand: '<b onmouseover="document.title=\'xss\'">Brand</b>',
        category,
        price: { amount: 1234, currency: 'EUR' },
        attributes: { '<i>material</i>': '<iframe src="javascript:document.title=1">' },
        status: 'active',
        stock: 3,
      }),
    });
  });

  const raw = [
    /<img src=x/i,
    /<script>document/i,
    /<svg onload/i,
    /<b onmouseover/i,
    /<iframe src="javascript/i,
    /<i>material/,
  ];

  it('escapes names, brands, descriptions and attributes on every page, the search highlight included', async () => {
    const cookie = await session();
    const product = await apiJson<{ id: number }>(`/v1/products/${slug}`);
    const pages = [`/p/${slug}`, '/search?q=zyxwvut', `/admin?q=${slug}`, `/admin/products/${product.id}`];
    // Search finds it once the catalogue change reached the search index (the API's cache is 1 s).
    await expect
      .poll(async () => (await (await fetch(`${web}/search?q=zyxwvut`)).text()).includes('data-product-id'), {
        timeout: 20_000,
      })
      .toBe(true);
    for (const path of pages) {
      const html = await (
        await fetch(`${web}${path}`, { headers: path.startsWith('/admin') ? { cookie } : {} })
      ).text();
      expect(html, path).toContain('&lt;img src=x');
      for (const pattern of raw) expect(html, `${path} ${pattern}`).not.toMatch(pattern);
    }
    // The search page shows the API's highlight (HTML it escaped), the match marked.
    expect(await (await fetch(`${web}/search?q=zyxwvut`)).text()).toMatch(/<mark>Zyxwvut<\/mark> &lt;img src=x/);
  });
});

describe('in a browser (Debian’s Chromium)', () => {
  let evil: Server;
  let evilUrl: string;

  beforeAll(async () => {
    chromium = launchChromium();
    // Another site: a page that frames the storefront, and one that posts the stock form to it.
    evil = createServer((request, response) => {
      response.setHeader('content-type', 'text/html');
      if (request.url === '/frame') {
        response.end(`<!doctype html><title>evil</title><iframe src="${web}/" width="800" height="600"></iframe>`);
      } else {
        response.end(`<!doctype html><title>evil</title>
          <form id="f" method="post" action="${web}/admin/products/${product.id}?/set">
            <input name="stock" value="0"><input name="expected" value="${request.url!.slice(1)}"><input name="reason" value="csrf">
          </form><script>document.getElementById('f').submit()</script>`);
      }
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.2', resolve));
    const address = evil.address() as { port: number };
    evilUrl = `http://127.0.0.2:${address.port}`;
  });
  afterAll(async () => {
    // Chromium still holds keep-alive connections to it: close() alone would wait for them.
    evil?.closeAllConnections();
    await new Promise((resolve) => evil?.close(resolve));
  });

  it('runs the storefront and its admin with no CSP violation: hydrated, navigating, posting with JavaScript', async () => {
    const context = await chromium!.context();
    const page = context.pages()[0] ?? (await context.newPage());
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) =>
        console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`),
      );
    });

    await page.goto(`${web}/`);
    // A client-side navigation (SvelteKit's router, so hydrated): the window survives it.
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    await page.locator(`a[href="/p/${product.slug}"]`).first().click();
    await page.waitForURL(`${web}/p/${product.slug}`);
    expect(await page.evaluate(() => (window as { sameDocument?: boolean }).sameDocument)).toBe(true);

    // The admin's enhanced forms (use:enhance posts with fetch): sign in, then adjust stock.
    await page.goto(`${web}/admin/login`);
    await page.getByLabel('API key').fill(keys.stock);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${web}/admin`);
    const before = await stockNow();
    await page.goto(`${web}/admin/products/${product.id}`);
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    await page.locator('#delta').fill('3');
    await page.locator('#adjust-reason').fill('browser under CSP');
    await page.locator('form[action="?/adjust"] button').click();
    await expect.poll(stockNow).toBe(before + 3);
    expect(await page.evaluate(() => (window as { sameDocument?: boolean }).sameDocument)).toBe(true);

    expect(violations).toEqual([]);
  });

  it('refuses to be framed by another site', async () => {
    const context = await chromium!.context();
    const page = context.pages()[0] ?? (await context.newPage());
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/frame-ancestors|X-Frame-Options/i.test(message.text())) refused.push(message.text());
    });
    await page.goto(`${evilUrl}/frame`);
    await expect.poll(() => refused.length).toBeGreaterThan(0);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    // The storefront's page never loads inside the frame.
    expect(
      await frame
        ?.locator('[data-product-id]')
        .count()
        .catch(() => 0),
    ).toBe(0);
  });

  it('refuses a form another site posts from a signed-in admin’s browser, changing nothing', async () => {
    const context = await chromium!.context();
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${web}/admin/login`);
    await page.getByLabel('API key').fill(keys.stock);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${web}/admin`);
    const before = await stockNow();

    const answer = page.waitForResponse((r) => r.url().startsWith(`${web}/admin/products/`));
    await page.goto(`${evilUrl}/${before}`);
    const response = await answer;
    expect(response.status()).toBe(403);
    expect(await response.text()).toBe('Cross-site POST form submissions are forbidden');
    // SameSite=Strict: the browser did not even send the admin's cookie with it.
    expect(await response.request().headerValue('cookie')).toBeNull();
    expect(await stockNow()).toBe(before);
  });
});

describe('logs', () => {
  it('hold no key, cookie, Authorization header or metrics token, from the storefront or the API', async () => {
    // Some traffic the logs must stay clean through: a metrics scrape, a key in a query string.
    expect((await fetch(`${api.url}/metrics`, { headers: bearer(METRICS_TOKEN) })).status).toBe(200);
    await fetch(`${api.url}/v1/products?api_key=${keys.stock}`);
    await fetch(`${web}/admin?key=${keys.stock}`);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const apiOutput = api.process.output();
    const webOutput = storefronts.map((s) => s.process.output()).join('\n');
    // The API logged the requests above, at trace level, each with its id.
    expect(apiOutput).toMatch(/"msg":"incoming request"/);
    expect(apiOutput).toMatch(/"url":"\/v1\/keys\/me","host"/);

    // The admin key made on first start is printed once on purpose, alone, for the newcomer.
    const lines = `${apiOutput}\n${webOutput}`.split('\n');
    expect(lines.filter((line) => line.includes(secretPart(adminKey)))).toEqual([`    ${adminKey}`]);
    for (const line of lines.filter((l) => l !== `    ${adminKey}`)) {
      for (const key of Object.values(keys)) {
        expect(line).not.toContain(secretPart(key));
        expect(line).not.toContain(secretPart(key).slice(0, 20));
      }
      expect(line).not.toContain(METRICS_TOKEN);
      expect(line).not.toMatch(/cat_[a-z0-9]{8}_[A-Za-z0-9_-]{4,}/);
      expect(line).not.toMatch(/(bearer|basic) (?!<)\S/i);
      expect(line).not.toMatch(/"(authorization|cookie)":(?!"\[redacted\]")/i);
      expect(line).not.toMatch(/admin_key=/);
    }
  });
});
