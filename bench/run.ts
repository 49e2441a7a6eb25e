/**
 * `npm run bench`: seeds a large catalogue into its own embedded PostgreSQL, then measures the
 * products API with autocannon, side by side in one run, against an in-memory ceiling and an
 * OFFSET baseline, and prints a table of ratios. Ratios measured in one run on one machine are
 * what to compare: absolute figures on a shared 2-core machine move from run to run.
 *
 *   npm run bench -- [--products 1000000] [--duration 10] [--connections 16] [--import-rows 1000000] [--reuse]
 *                    [--skip-web | --web-only] [--data-dir .bench-data]
 *   npm run bench -- --soak [--soak-seconds 600] [--soak-rate N] [--connections 16] [--data-dir .bench-data]
 *   npm run bench -- --stock-only [--reuse] [--duration 10] [--products 1000000] [--data-dir .bench-data]
 *   npm run bench -- --search-only [--reuse] [--products 1000000] [--data-dir .bench-data]
 *
 * After search, the storefront (bench/web.ts): its server-rendered listing page under load against
 * the API's answer to the same query, and its bytes on the wire at 10,000 products and at
 * --products. --skip-web skips it; --web-only measures nothing else (seed, then the storefront).
 * It ends with the bulk import (bench/import.ts) in a database of its own: --import-rows 0 skips it.
 * --reuse keeps the data folder (.bench-data/, or --data-dir) between runs when it already holds
 * that many products.
 * --soak runs the soak alone (bench/soak.ts): mixed traffic at a steady rate for --soak-seconds,
 * on the catalogue already in the data folder (never deleted), with PASS/FAIL checks.
 * --stock-only measures stock adjustments alone (bench/stock.ts): the API as configured (coalescing
 * concurrent adjustments), the same API in a second process with STOCK_COALESCE=off, and the raw
 * SQL ceiling, side by side, then prints their rows and ratios.
 * --search-only measures search alone (bench/search.ts): the API's p50 and p95 over the query mix
 * beside the naive baseline, from four clients and from one.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpus, loadavg } from 'node:os';
import { rm } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDatabase, migrateDatabase } from '../api/src/db/database.ts';
import { startEmbeddedPostgres } from '../api/src/dev/embedded-postgres.ts';
import { createDatabaseIfMissing } from '../api/src/runtime.ts';
import { seedCatalogue } from '../api/src/seed/load.ts';
import { KeyRepository } from '../api/src/auth/keys.ts';
import { benchImportOn, importFigureLines, type ImportBenchFigures } from './import.ts';
import { measureUrl, type Measured } from './measure.ts';
import { benchSearch } from './search.ts';
import { benchStock } from './stock.ts';
import { benchWeb, START_TRUST_PROXY, type WebBenchFigures, type WebRatio } from './web.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    products: { type: 'string' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    'import-rows': { type: 'string', default: '1000000' },
    reuse: { type: 'boolean', default: false },
    'skip-web': { type: 'boolean', default: false },
    'web-only': { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: '.bench-data' },
    soak: { type: 'boolean', default: false },
    'soak-seconds': { type: 'string', default: '600' },
    'soak-rate': { type: 'string' },
    'stock-only': { type: 'boolean', default: false },
    'search-only': { type: 'boolean', default: false },
  },
});
if (args['skip-web'] && args['web-only']) throw new Error('--skip-web and --web-only exclude each other');
const webOnly = args['web-only'];
const stockOnly = args['stock-only'];
const searchOnly = args['search-only'];
if ([webOnly, stockOnly, searchOnly, args.soak].filter(Boolean).length > 1)
  throw new Error('--web-only, --stock-only, --search-only and --soak exclude each other');
const productCount = Number(args.products ?? 1_000_000);
const duration = Number(args.duration);
const connections = Number(args.connections);
const importRows = webOnly || stockOnly || searchOnly ? 0 : Number(args['import-rows']);
const dataDir = resolvePath(root, args['data-dir']);

const log = (message: string) => process.stderr.write(`${message}\n`);

if (args.soak) {
  const { runSoak } = await import('./soak.ts');
  process.exit(
    await runSoak({
      dataDir,
      seconds: Number(args['soak-seconds']),
      rate: args['soak-rate'] === undefined ? undefined : Number(args['soak-rate']),
      products: args.products === undefined ? undefined : productCount,
      connections,
      log,
    }),
  );
}

function progress(done: number, total: number, startedAt: number) {
  if (!process.stderr.isTTY) return;
  const seconds = (performance.now() - startedAt) / 1000;
  const rate = done / Math.max(seconds, 0.001);
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(
    `\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((done / total) * 100).toFixed(0)}% ${Math.round(rate).toLocaleString('en')} rows/s `,
  );
}

/** A ratio of the report: at least `target`, or within 1 ± `within`, or shown without a target. */
type Target = WebRatio;

function targetText(t: Target): string {
  if (t.target !== undefined) return `≥ ${t.target} ${t.value >= t.target ? '✓' : '✗ missed'}`;
  if (t.within !== undefined) return `1 ± ${t.within} ${Math.abs(t.value - 1) <= t.within ? '✓' : '✗ missed'}`;
  return '';
}

const measure = (name: string, url: string, seconds = duration): Promise<Measured> =>
  measureUrl(name, url, { connections, duration: seconds, log });

if (!args.reuse) await rm(dataDir, { recursive: true, force: true });
log(`PostgreSQL: starting the embedded server in ${dataDir}`);
const server = await startEmbeddedPostgres({ dataDir });
let child: ReturnType<typeof spawn> | undefined;
/** The API started with STOCK_COALESCE=off for the stock scenarios (benchStockSide). */
let uncoalescedChild: ReturnType<typeof spawn> | undefined;
async function stop(running: ReturnType<typeof spawn> | undefined) {
  if (running && running.exitCode === null) {
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  }
}
async function stopChild() {
  await Promise.all([stop(child), stop(uncoalescedChild)]);
}

interface ServerUrls {
  api: string;
  uncached: string;
  ceiling: string;
  baseline: string;
}

/** bench/server.ts in a process of its own; answers when it prints its URLs. */
async function startServer(env: NodeJS.ProcessEnv): Promise<{ process: ReturnType<typeof spawn>; urls: ServerUrls }> {
  const started = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: started.stdout! }).once('line', resolve);
    started.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { process: started, urls: JSON.parse(firstLine) as ServerUrls };
}
try {
  await createDatabaseIfMissing(server, 'bench');
  const url = server.urlFor('bench');
  const database = createDatabase(url);
  await migrateDatabase(database);
  const { rows } = await database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
  let loadRate: string;
  if (rows[0]!.n === productCount) {
    loadRate = `reused ${productCount.toLocaleString('en')} products already loaded (--reuse)`;
  } else {
    if (rows[0]!.n > 0)
      throw new Error(`${dataDir} holds ${rows[0]!.n} products, not ${productCount}: run without --reuse`);
    log(`Seeding ${productCount.toLocaleString('en')} products`);
    const startedAt = performance.now();
    const seeded = await seedCatalogue(database.pool, {
      products: productCount,
      onProgress: (done, total) => progress(done, total, startedAt),
    });
    await database.pool.query('VACUUM ANALYZE products');
    // Write the load's dirty pages out now, not during the measurements.
    await database.pool.query('CHECKPOINT');
    const seconds = (performance.now() - startedAt) / 1000;
    if (process.stderr.isTTY) process.stderr.write('\n');
    loadRate = `${productCount.toLocaleString('en')} products in ${seconds.toFixed(1)} s (${Math.round(productCount / seconds).toLocaleString('en')} rows/s, indexes and VACUUM ANALYZE included; COPY ${(seeded.ms / 1000).toFixed(1)} s)`;
  }
  log(`Load: ${loadRate}`);
  const key = await new KeyRepository(database.db).create('bench', ['stock:write', 'catalog:write']);
  await database.close();

  // The TRUST_PROXY `npm start` gives the API: the storefront (bench/web.ts) calls this one.
  const main = await startServer({ DATABASE_URL: url, TRUST_PROXY: START_TRUST_PROXY });
  child = main.process;
  const urls = main.urls;

  /**
   * Stock adjustments (bench/stock.ts): the API as configured, beside the same API in a process of
   * its own with STOCK_COALESCE=off (a row without a target), stopped after, so that it runs beside
   * no other measurement.
   */
  async function benchStockSide() {
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(2))
        .join(' ');
    log(`Measuring stock adjustments (load average ${load()})`);
    const uncoalesced = await startServer({ DATABASE_URL: url, STOCK_COALESCE: 'off' });
    uncoalescedChild = uncoalesced.process;
    const stock = await benchStock({
      apiUrl: urls.api,
      apiUrlUncoalesced: uncoalesced.urls.api,
      apiKey: key.secret,
      apiKeyId: key.id,
      databaseUrl: url,
      products: productCount,
      seconds: duration,
      poolSize: 10,
      log,
    });
    await stop(uncoalescedChild);
    return { rows: stock.rows.map((r) => ({ ...r, name: r.label })), targets: stock.ratios };
  }

  /**
   * Search (bench/search.ts), through the API with the response cache off: a repeated query must
   * not come from memory.
   */
  async function benchSearchSide() {
    // What the stock scenarios wrote (some 150,000 row versions in products and as many ledger
    // rows) is vacuumed and written out first, as after the load: search is measured beside no
    // autovacuum or checkpoint of another scenario's writes.
    const settled = performance.now();
    const maintenance = createDatabase(url);
    try {
      await maintenance.pool.query('VACUUM (ANALYZE) products, stock_movements');
      await maintenance.pool.query('CHECKPOINT');
    } finally {
      await maintenance.close();
    }
    log(`Measuring search (after VACUUM and CHECKPOINT, ${((performance.now() - settled) / 1000).toFixed(1)} s)`);
    return benchSearch({ apiUrl: urls.uncached, databaseUrl: url });
  }

  const active = Number(
    (
      (await (await fetch(`${urls.api}/v1/categories`)).json()) as { data: { depth: number; product_count: number }[] }
    ).data
      .filter((c) => c.depth === 0)
      .reduce((sum, c) => sum + c.product_count, 0),
  );
  /** The API's scenarios, then stock adjustments and search: all but the storefront and the import. */
  async function benchApi() {
    // The deep position, reached the way a client reaches it: by following cursors.
    // Past product 500,000 when the catalogue has it; otherwise well past its middle.
    const deepTarget = active > 510_000 ? 500_000 : Math.floor(active / 2);
    let cursor: string | null = null;
    let secondPage: string | null = null;
    let position = 0;
    const walkStarted = performance.now();
    while (position < deepTarget) {
      const body = (await (
        await fetch(`${urls.api}/v1/products?limit=100${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as {
        data: unknown[];
        next_cursor: string | null;
      };
      position += body.data.length;
      cursor = body.next_cursor;
      if (secondPage === null) {
        const first = (await (await fetch(`${urls.api}/v1/products`)).json()) as { next_cursor: string };
        secondPage = first.next_cursor;
      }
      if (!cursor) throw new Error('ran out of pages before the deep position');
    }
    log(
      `Deep cursor: product ${position + 1} reached in ${((performance.now() - walkStarted) / 1000).toFixed(1)} s by cursor`,
    );

    const categories = (await (await fetch(`${urls.api}/v1/categories`)).json()) as {
      data: { slug: string; depth: number; product_count: number }[];
    };
    const category = categories.data.filter((c) => c.depth === 1).sort((a, b) => b.product_count - a.product_count)[0]!;

    log(`Measuring: ${duration} s per scenario, ${connections} connections`);
    const categoryQuery = `category=${category.slug}&sort=price_asc`;
    const ceiling = await measure('ceiling: same body from memory, bare Fastify', `${urls.ceiling}/v1/products`);
    const scenarios = [
      { label: 'GET /v1/products, first page', path: '/v1/products' },
      { label: 'same, second page by cursor', path: `/v1/products?cursor=${secondPage}` },
      {
        label: `same, at product ${(position + 1).toLocaleString('en')} by cursor`,
        path: `/v1/products?cursor=${cursor}`,
      },
      {
        label: `category=${category.slug} (${category.product_count.toLocaleString('en')} products), price_asc`,
        path: `/v1/products?${categoryQuery}`,
      },
    ];
    // Each API scenario twice: as configured (with the 1 s response cache), and with every request
    // reaching PostgreSQL, which is what proves the keyset queries themselves.
    const cached: Measured[] = [];
    const direct: Measured[] = [];
    for (const scenario of scenarios) {
      cached.push(await measure(`${scenario.label} (response cache on)`, `${urls.api}${scenario.path}`));
      direct.push(
        await measure(
          `${scenario.label} (cache off: every request queries PostgreSQL)`,
          `${urls.uncached}${scenario.path}`,
        ),
      );
    }
    const offset = await measure(
      `baseline: OFFSET ${position.toLocaleString('en')} LIMIT 24, no cache`,
      `${urls.baseline}/offset?offset=${position}`,
      Math.min(duration, 5),
    );
    const [first, , deep, byCategory] = cached as [Measured, Measured, Measured, Measured];
    const [firstDirect, secondDirect, deepDirect, byCategoryDirect] = direct as [
      Measured,
      Measured,
      Measured,
      Measured,
    ];

    const stock = await benchStockSide();

    const searched = await benchSearchSide();
    const rows = [ceiling, ...cached, ...direct, offset, ...stock.rows];
    const ratio = (a: Measured, b: Measured) => a.rps / b.rps;
    const targets: Target[] = [
      { label: 'first page / ceiling (as configured)', value: ratio(first, ceiling), target: 0.6 },
      { label: 'first page / ceiling (cache off)', value: ratio(firstDirect, ceiling) },
      { label: 'deep page / first page (as configured)', value: ratio(deep, first), target: 0.9 },
      { label: 'deep page / first page (cache off)', value: ratio(deepDirect, firstDirect), target: 0.9 },
      // Both read by cursor: what depth alone costs.
      { label: 'deep page / second page (cache off)', value: ratio(deepDirect, secondDirect) },
      { label: 'category + price_asc / first page (as configured)', value: ratio(byCategory, first) },
      { label: 'category + price_asc / first page (cache off)', value: ratio(byCategoryDirect, firstDirect) },
      { label: 'OFFSET at the deep position / first page (cache off)', value: ratio(offset, firstDirect) },
      ...stock.targets,
    ];
    return { rows, targets, searched, offset };
  }
  const api = webOnly
    ? undefined
    : stockOnly
      ? { ...(await benchStockSide()), searched: undefined, offset: undefined }
      : searchOnly
        ? { rows: [], targets: [], searched: await benchSearchSide(), offset: undefined }
        : await benchApi();

  let web: WebBenchFigures | undefined;
  if (!args['skip-web'] && !stockOnly && !searchOnly) {
    log('Measuring the storefront');
    web = await benchWeb({ server, apiUrl: urls.api, products: productCount, duration, connections, log });
  }
  // The API child is stopped first: the import runs on its own API process, and its peak RSS is
  // that process's alone.
  await stopChild();
  let imported: ImportBenchFigures | undefined;
  if (importRows > 0) {
    log('Measuring the bulk import');
    imported = await benchImportOn(server, importRows, log);
  }

  const rows2 = [...(api?.rows ?? []), ...(web?.rows ?? [])];
  const searched = api?.searched;
  const targets: Target[] = [
    ...(api?.targets ?? []),
    ...(web?.ratios ?? []),
    ...(imported ? [{ label: 'import / raw COPY into products (rows/s)', value: imported.ratio, target: 0.5 }] : []),
  ];
  const lines = [
    '',
    `Catalogue: ${productCount.toLocaleString('en')} products (${active.toLocaleString('en')} active). Load: ${loadRate}.`,
    `autocannon: ${connections} connections, ${duration} s per scenario after a 2 s warm-up; Node ${process.version}, ${cpus().length} cores.`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | errors |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows2.map(
      (r) => `| ${r.name} | ${Math.round(r.rps).toLocaleString('en')} | ${r.p50} | ${r.p99} | ${r.errors} |`,
    ),
    '',
    ...(searched
      ? [
          '| search | p50 ms | p95 ms | requests | errors |',
          '| --- | ---: | ---: | ---: | ---: |',
          ...searched.map(
            (r) => `| ${r.label} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.requests} | ${r.errors} |`,
          ),
          '',
          `Search p95 with facets: ${searched[0]!.p95.toFixed(1)} ms (target ≤ 50 ${searched[0]!.p95 <= 50 ? '✓' : '✗ missed'}); the naive baseline's: ${searched[1]!.p95.toFixed(1)} ms.`,
          '',
          ...searched
            .filter((r) => r.label.startsWith('GET'))
            .map(
              (r) =>
                `Slowest queries, median ms (${r.label.replace(/^.*?, (\d+ clients?).*$/, '$1')}): ${r.byQuery
                  .slice(0, 6)
                  .map((q) => `${q.query} ${q.median.toFixed(1)}`)
                  .join(', ')}.`,
            ),
          '',
        ]
      : []),
    ...(web ? [...web.lines, ''] : []),
    ...(imported ? [...importFigureLines(imported), ''] : []),
    '| ratio | measured | target |',
    '| --- | ---: | --- |',
    ...targets.map((t) => `| ${t.label} | ${t.value.toFixed(t.value < 0.01 ? 4 : 2)} | ${targetText(t)} |`),
    '',
  ];
  console.log(lines.join('\n'));
  // The OFFSET baseline may time out: that is its point, not a failure of the figures.
  if (rows2.some((r) => r !== api?.offset && r.errors > 0) || searched?.some((r) => r.errors > 0)) {
    console.error('Some requests failed: the figures above are not valid.');
    process.exitCode = 1;
  }
} finally {
  await stopChild();
  await server.stop();
}
