/**
 * The storefront, side by side with the API it calls, in the same run:
 *  - under load: the BUILT storefront (`node web/server/index.js`, as `npm start` runs it: its
 *    page cache and compression in front of SvelteKit) rendering a listing page on the server,
 *    against the API's own `GET /v1/products` with the query that page makes (same parameters in
 *    the same order, so the same response-cache entry), measured as configured: response cache on,
 *    which is what the storefront's server calls. Both are asked with a browser's Accept-Encoding.
 *    Target: the storefront at least half the API's rate. Shown beside it, without a target: the
 *    same page with no Accept-Encoding on either side, and with the storefront's page cache off;
 *  - bytes on the wire: a listing page's first load and each next page in Chromium (images
 *    excluded, testing/src/measure.ts) on a 10,000-product catalogue and on the bench's
 *    catalogue, the same category on both (the seed's category tree is fixed). Target: within 5%
 *    of each other, and within the budgets of the browser test.
 *
 * The 10,000-product catalogue lives in a database of its own on the bench's embedded server,
 * with a second API process (bench/server.ts, configured like the first) and a second storefront
 * on it; everything started here is stopped, and that database dropped, before returning.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { measureListingBytes, type ListingBytes } from '@catalogue/testing/measure';
import { freePort } from '@catalogue/testing/process';
import pg from 'pg';
import { createDatabase, migrateDatabase } from '../api/src/db/database.ts';
import type { EmbeddedPostgres } from '../api/src/dev/embedded-postgres.ts';
import { createDatabaseIfMissing } from '../api/src/runtime.ts';
import { seedCatalogue } from '../api/src/seed/load.ts';
import { measureUrl, type Measured } from './measure.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** What `npm start` gives the API (scripts/start.mjs): the storefront's forwarded address is trusted from here. */
export const START_TRUST_PROXY = process.env.TRUST_PROXY ?? '127.0.0.1,::1';

/** The storefront's page size (web/src/lib/server/catalogue.ts) and default sort. */
const PAGE_SIZE = 24;
const SORT = 'newest';
/** The budgets of web/test/browser.test.ts, in bytes. */
const BUDGET = { firstLoad: 150 * 1024, nextPage: 40 * 1024, js: 60 * 1024 };
/** How far apart the two catalogues' byte figures may be. */
const BYTES_TOLERANCE = 0.05;
const NEXT_PAGES = 4;
const SMALL_DATABASE = 'bench_web_small';
/**
 * What Chromium sends, and what the storefront's own calls to the API send (undici's fetch sends
 * `gzip, deflate, br`): both sides of the comparison are asked as their real clients ask them. The
 * storefront answers Brotli (web/server/page-cache.js); the API answers uncompressed whatever it is
 * asked. The same page without it is measured too (IDENTITY), shown without a target.
 */
const BROWSER = { 'accept-encoding': 'gzip, deflate, br, zstd' };
const IDENTITY = {};

/** A storefront or API scenario's figures. */
export type WebRow = Measured;

export interface WebRatio {
  label: string;
  value: number;
  /** At least this. */
  target?: number;
  /** Within 1 ± this. */
  within?: number;
}

export interface WebBenchFigures {
  rows: WebRow[];
  ratios: WebRatio[];
  /** The bytes table and its summary, for the report. */
  lines: string[];
}

export interface WebBenchOptions {
  /** The bench's embedded server: the 10,000-product catalogue goes into a database of its own there. */
  server: EmbeddedPostgres;
  /** The bench's API (response cache on) on the bench's catalogue. */
  apiUrl: string;
  /** The bench's catalogue size, for the labels. */
  products: number;
  smallProducts?: number;
  duration: number;
  connections: number;
  log: (message: string) => void;
}

const format = (n: number) => Math.round(n).toLocaleString('en');
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** The newest modification time under `path` (a file or a folder), 0 when it does not exist. */
async function newest(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const entry of await readdir(path)) {
    if (entry === 'node_modules') continue;
    latest = Math.max(latest, await newest(join(path, entry)));
  }
  return latest;
}

/** Builds the storefront (`npm run build -w web`) when web/build is missing or older than its sources. */
export async function ensureStorefrontBuilt(log: (message: string) => void): Promise<void> {
  const built = (await stat(join(root, 'web/build/index.js')).catch(() => undefined))?.mtimeMs ?? 0;
  const sources = Math.max(
    ...(await Promise.all(
      ['web/src', 'web/static', 'web/vite.config.ts', 'web/svelte.config.js', 'web/package.json'].map((p) =>
        newest(join(root, p)),
      ),
    )),
  );
  if (built > sources) return;
  log(built === 0 ? 'Storefront: building web/build' : 'Storefront: web/src is newer than web/build, rebuilding');
  const child = spawn('npm', ['run', 'build', '-w', 'web'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`npm run build -w web exited with ${code}`);
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`; resolves once it has exited. */
export async function stopProcess(child: ChildProcess | undefined, graceMs = 15_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The bench's API process (bench/server.ts) on `databaseUrl`, configured as run.ts starts it (plus `env`). */
export async function startApi(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], {
    cwd: root,
    env: { ...process.env, ...env, DATABASE_URL: databaseUrl, TRUST_PROXY: START_TRUST_PROXY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    return { child, url: (JSON.parse(firstLine) as { api: string }).api };
  } catch (error) {
    await stopProcess(child);
    throw error;
  }
}

/** The built storefront as scripts/start.mjs runs it: `node web/server/index.js` with PORT, HOST, API_URL, ORIGIN. */
export async function startStorefront(
  apiUrl: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['web/server/index.js'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', API_URL: apiUrl, ORIGIN: url, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the storefront exited with ${child.exitCode}`);
      const ok = await fetch(`${url}/`).then(
        async (r) => (await r.arrayBuffer(), r.ok),
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`the storefront did not answer on ${url} in 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { child, url };
  } catch (error) {
    await stopProcess(child);
    throw error;
  }
}

/** A database of its own on `server` with the demo catalogue of `products` products. */
async function seedSmall(server: EmbeddedPostgres, products: number): Promise<string> {
  await dropSmall(server);
  await createDatabaseIfMissing(server, SMALL_DATABASE);
  const url = server.urlFor(SMALL_DATABASE);
  const database = createDatabase(url);
  try {
    await migrateDatabase(database);
    await seedCatalogue(database.pool, { products });
    await database.pool.query('VACUUM ANALYZE products');
  } finally {
    await database.close();
  }
  return url;
}

async function dropSmall(server: EmbeddedPostgres): Promise<void> {
  const admin = new pg.Client({ connectionString: server.urlFor('postgres') });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${SMALL_DATABASE} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** The query string the storefront's listing sends the API (openapi-fetch: declaration order, encodeURIComponent). */
function listingQuery(category?: string, cursor?: string): string {
  const params: [string, string | undefined][] = [
    ['limit', String(PAGE_SIZE)],
    ['sort', SORT],
    ['cursor', cursor],
    ['category', category],
  ];
  return params
    .filter((p): p is [string, string] => p[1] !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
}

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as T;
}

interface Category {
  slug: string;
  depth: number;
  product_count: number;
}

/**
 * The storefront page shows the products the API answers for the query built here: proof that
 * it calls the bench's API, and that the API scenario asks the same question.
 */
async function checkSamePage(webUrl: string, webPath: string, apiUrl: string, apiPath: string): Promise<void> {
  const html = await (await fetch(`${webUrl}${webPath}`)).text();
  const shown = [...html.matchAll(/data-product-id="(\d+)"/g)].map((m) => Number(m[1]));
  const { data } = await json<{ data: { id: number }[] }>(`${apiUrl}${apiPath}`);
  const expected = data.map((p) => p.id);
  if (shown.length !== PAGE_SIZE || JSON.stringify(shown) !== JSON.stringify(expected)) {
    throw new Error(
      `${webPath} shows products ${JSON.stringify(shown)}, the API answers ${JSON.stringify(expected)} for ${apiPath}`,
    );
  }
}

export async function benchWeb(options: WebBenchOptions): Promise<WebBenchFigures> {
  const { server, apiUrl, products, smallProducts = 10_000, duration, connections, log } = options;

  const measure = (name: string, url: string, headers: Record<string, string> = BROWSER) =>
    measureUrl(name, url, { connections, duration, log, headers });

  await ensureStorefrontBuilt(log);
  const started: ChildProcess[] = [];
  let smallSeeded = false;
  try {
    // The same category on both catalogues: the biggest department of the bench's.
    const tree = await json<{ data: Category[] }>(`${apiUrl}/v1/categories`);
    const department = tree.data.filter((c) => c.depth === 0).sort((a, b) => b.product_count - a.product_count)[0]!;
    const path = `/c/${department.slug}`;

    log(`Storefront: seeding ${format(smallProducts)} products into a database of their own`);
    smallSeeded = true;
    const smallDatabaseUrl = await seedSmall(server, smallProducts);
    const smallApi = await startApi(smallDatabaseUrl);
    started.push(smallApi.child);
    const smallWeb = await startStorefront(smallApi.url);
    started.push(smallWeb.child);
    const bigWeb = await startStorefront(apiUrl);
    started.push(bigWeb.child);

    const smallTree = await json<{ data: Category[] }>(`${smallApi.url}/v1/categories`);
    const smallDepartment = smallTree.data.find((c) => c.slug === department.slug);
    if (!smallDepartment || smallDepartment.product_count <= PAGE_SIZE * (NEXT_PAGES + 1)) {
      throw new Error(`${department.slug} has too few products in the ${format(smallProducts)}-product catalogue`);
    }
    await checkSamePage(smallWeb.url, path, smallApi.url, `/v1/products?${listingQuery(department.slug)}`);

    // Bytes first: both catalogues, the same page, a fresh Chromium profile each. The page's data
    // carries each product's created_at and updated_at, sent once when they are equal (devalue):
    // a product the stock scenario changed costs about 26 bytes more. At 1,000,000 products that
    // scenario touches about 5% of them; on a small --products run, nearly all (up to +5% a page).
    log(`Storefront: bytes on the wire for ${path}, first load and ${NEXT_PAGES} next pages (Chromium)`);
    const small = await measureListingBytes(smallWeb.url, { path, nextPages: NEXT_PAGES });
    const big = await measureListingBytes(bigWeb.url, { path, nextPages: NEXT_PAGES });
    log(`  ${format(smallProducts)} products: ${JSON.stringify(small)}`);
    log(`  ${format(products)} products: ${JSON.stringify(big)}`);

    // The small catalogue's processes sit idle from here: stopped, so that the load has the machine.
    await Promise.all(started.splice(0, 2).map((child) => stopProcess(child)));

    // Under load: each storefront page, then the API answering the query that page makes.
    const first = await json<{ next_cursor: string | null }>(`${apiUrl}/v1/products?${listingQuery(department.slug)}`);
    if (!first.next_cursor) throw new Error(`${department.slug} has a single page`);
    const pages = [
      { label: '/products, first page', web: '/products', api: `/v1/products?${listingQuery()}` },
      {
        label: `${path} (${format(department.product_count)} products), first page`,
        web: path,
        api: `/v1/products?${listingQuery(department.slug)}`,
      },
      {
        label: `${path}, second page by cursor`,
        web: `${path}?${new URLSearchParams({ cursor: first.next_cursor })}`,
        api: `/v1/products?${listingQuery(department.slug, first.next_cursor)}`,
      },
    ];
    for (const page of pages) await checkSamePage(bigWeb.url, page.web, apiUrl, page.api);

    log(`Measuring the storefront: ${duration} s per scenario, ${connections} connections`);
    const rows: WebRow[] = [];
    const ratios: WebRatio[] = [];
    /** The API's figures for each page's query (browser's Accept-Encoding). */
    const apiFor = new Map<(typeof pages)[number], Measured>();
    for (const page of pages) {
      const how = ", a browser's Accept-Encoding";
      const web = await measure(`storefront ${page.label} (server-rendered HTML${how})`, `${bigWeb.url}${page.web}`);
      const api = await measure(
        `API ${page.api.split('?')[0]}, the query that page makes (response cache on${how})`,
        `${apiUrl}${page.api}`,
      );
      rows.push(web, api);
      apiFor.set(page, api);
      ratios.push({ label: `storefront / API, ${page.label} (req/s)`, value: web.rps / api.rps, target: 0.5 });
    }
    // Without the target, for what is behind the figures: the same category page with neither side
    // asked for compression (the storefront then sends 3 times the API's bytes), and rendered by a
    // storefront keeping no page (PAGE_CACHE_TTL_MS=0: every request renders, calling the API).
    const category = pages[1]!;
    const plainWeb = await measure(
      `storefront ${category.label} (server-rendered HTML, no Accept-Encoding)`,
      `${bigWeb.url}${category.web}`,
      IDENTITY,
    );
    const plainApi = await measure(
      `API ${category.api.split('?')[0]}, the query that page makes (response cache on, no Accept-Encoding)`,
      `${apiUrl}${category.api}`,
      IDENTITY,
    );
    await stopProcess(started.pop());
    const uncachedWeb = await startStorefront(apiUrl, { PAGE_CACHE_TTL_MS: '0' });
    started.push(uncachedWeb.child);
    const uncached = await measure(
      `storefront ${category.label} (server-rendered HTML, page cache off: every request renders)`,
      `${uncachedWeb.url}${category.web}`,
    );
    rows.push(plainWeb, plainApi, uncached);
    ratios.push(
      { label: `storefront / API, ${category.label}, no Accept-Encoding (req/s)`, value: plainWeb.rps / plainApi.rps },
      {
        label: `storefront with its page cache off / API, ${category.label} (req/s)`,
        value: uncached.rps / apiFor.get(category)!.rps,
      },
    );

    // Bytes: the bench's catalogue against the small one, each step, and the budgets on both.
    const steps = Math.min(small.nextPages.length, big.nextPages.length);
    const bytesRows: { label: string; small: number; big: number; budget: number }[] = [
      {
        label: 'first load (HTML, CSS, JS, data)',
        small: small.firstLoad,
        big: big.firstLoad,
        budget: BUDGET.firstLoad,
      },
      { label: 'of which JavaScript', small: small.firstLoadJs, big: big.firstLoadJs, budget: BUDGET.js },
      ...Array.from({ length: steps }, (_, i) => ({
        label: `next page ${i + 2} (rel="next")`,
        small: small.nextPages[i]!,
        big: big.nextPages[i]!,
        budget: BUDGET.nextPage,
      })),
    ];
    const within = (r: { small: number; big: number }) => Math.abs(r.big / r.small - 1) <= BYTES_TOLERANCE;
    const inBudget = (r: { small: number; big: number; budget: number }) => r.small <= r.budget && r.big <= r.budget;
    const complete = (b: ListingBytes) => b.nextPages.length === NEXT_PAGES;
    for (const r of bytesRows) {
      ratios.push({
        label: `listing bytes, ${r.label}: ${format(products)} / ${format(smallProducts)} products`,
        value: r.big / r.small,
        within: BYTES_TOLERANCE,
      });
    }
    const allSteps = complete(small) && complete(big);
    const lines = [
      `| ${path}, bytes on the wire (images excluded) | ${format(smallProducts)} products | ${format(products)} products | ratio | budget |`,
      '| --- | ---: | ---: | ---: | --- |',
      ...bytesRows.map(
        (r) =>
          `| ${r.label} | ${format(r.small)} | ${format(r.big)} | ${(r.big / r.small).toFixed(3)} | ≤ ${kb(r.budget)} ${inBudget(r) ? '✓' : '✗ missed'} |`,
      ),
      '',
      `Listing bytes at ${format(products)} against ${format(smallProducts)} products, first load and each next page: within ${BYTES_TOLERANCE * 100}% of each other ${allSteps && bytesRows.every(within) ? '✓' : '✗ missed'}; within the budgets (first load ≤ ${kb(BUDGET.firstLoad)}, JavaScript ≤ ${kb(BUDGET.js)}, each next page ≤ ${kb(BUDGET.nextPage)}) ${allSteps && bytesRows.every(inBudget) ? '✓' : '✗ missed'}.${allSteps ? '' : ` Only ${steps} of ${NEXT_PAGES} next pages were reached: a rel="next" link was missing.`}`,
    ];
    return { rows, ratios, lines };
  } finally {
    await Promise.all(started.map((child) => stopProcess(child)));
    if (smallSeeded) await dropSmall(server);
  }
}
