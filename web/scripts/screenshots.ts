/**
 * `npm run screenshots -w web`: builds nothing (run `npm run build -w web` first), starts the
 * stack on a fresh demo catalogue, and saves the home, listing, product, search and admin pages
 * at phone and desktop widths to docs/screenshots/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '@catalogue/testing/process';
import { launchChromium } from '@catalogue/testing/browser';
import { startStack } from '../test/support/stack.ts';

const out = join(repoRoot, 'docs/screenshots');
const sizes = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } } as const;

const stack = await startStack({ products: 2_000 });
const chromium = launchChromium();
try {
  await mkdir(out, { recursive: true });
  const categories = (await (await fetch(`${stack.api}/v1/categories`)).json()) as {
    data: { slug: string; depth: number }[];
  };
  const category = categories.data.find((c) => c.depth === 1)!.slug;
  const product = (
    (await (await fetch(`${stack.api}/v1/products?limit=1`)).json()) as { data: { id: number; slug: string }[] }
  ).data[0]!;
  const pages = {
    home: '/',
    listing: `/c/${category}?sort=price_asc`,
    product: `/p/${product.slug}`,
    search: '/search?q=chiar',
    admin: `/admin/products/${product.id}`,
  };
  for (const [size, viewport] of Object.entries(sizes)) {
    const context = await chromium.context({ viewport, locale: 'en-GB', deviceScaleFactor: 1 });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${stack.web}/admin/login`);
    await page.getByLabel('API key').fill(stack.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${stack.web}/admin`);
    for (const [name, path] of Object.entries(pages)) {
      await page.goto(`${stack.web}${path}`, { waitUntil: 'networkidle' });
      await page.screenshot({ path: join(out, `${name}-${size}.png`), fullPage: false });
      console.log(`docs/screenshots/${name}-${size}.png`);
    }
  }
} finally {
  await chromium.close();
  await stack.stop();
}
