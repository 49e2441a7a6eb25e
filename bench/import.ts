/**
 * The product import against its ceiling: the same rows sent to POST /v1/imports/products (NDJSON
 * streamed over HTTP from a file), and loaded by a raw `COPY ... FROM STDIN` into the products
 * table itself (its indexes and the trigger that writes search rows; rolled back): the least any
 * load of these rows into the catalogue costs. Target: the import at least half as fast. A COPY
 * into a bare table with the same indexes and no trigger is shown beside it.
 *
 * `npm run bench` runs it on its embedded server (benchImportOn). Alone,
 * `node --import tsx bench/import.ts [--rows 1000000]` starts an embedded PostgreSQL in a
 * temporary folder for it. Either way it seeds 1,000 products into a database of its own, runs
 * the API in a child process (whose peak RSS is measured), prints the figures, and drops it all.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { generateProducts } from '../api/src/seed/generator.ts';
import type { EmbeddedPostgres } from '../api/src/dev/embedded-postgres.ts';
import { copyText } from '../api/src/seed/load.ts';

export interface ImportBenchOptions {
  /** The API's base URL. */
  url: string;
  /** A key with catalog:write. */
  apiKey: string;
  databaseUrl: string;
  rows: number;
  /** The API's process id, to read its resident memory (Linux /proc). */
  apiPid: number;
}

export interface ImportBenchFigures {
  rows: number;
  importRowsPerSecond: number;
  /** COPY into products (rolled back): its indexes and triggers, search rows included. */
  copyRowsPerSecond: number;
  /** COPY into a table LIKE products INCLUDING ALL: the indexes without the triggers. */
  bareCopyRowsPerSecond: number;
  ratio: number;
  /** The API process's resident memory when the import started, and its peak during it. */
  startRssMb: number;
  peakRssMb: number;
}

const COLUMNS =
  'sku, slug, name, description, brand, category_id, price_amount, currency, images, attributes, status, stock';

/** The leaf categories of the API's tree: the ones no other category names as its parent. */
async function leafSlugs(url: string): Promise<string[]> {
  const { data } = (await (await fetch(`${url}/v1/categories`)).json()) as {
    data: { id: number; slug: string; parent_id: number | null }[];
  };
  const parents = new Set(data.map((c) => c.parent_id));
  return data.filter((c) => !parents.has(c.id)).map((c) => c.slug);
}

/** Writes `rows` valid product rows, one JSON object a line, with the disk's back-pressure. */
async function writeRows(file: string, rows: number, leaves: string[]): Promise<void> {
  const known = new Set(leaves);
  let index = 0;
  async function* lines() {
    let chunk = '';
    for (const p of generateProducts({ count: rows, seed: 4242 })) {
      const category = known.has(p.categorySlug) ? p.categorySlug : leaves[index % leaves.length]!;
      index += 1;
      chunk += `${JSON.stringify({
        sku: `IMP-${p.sku}`,
        slug: `imp-${p.slug}`,
        name: p.name,
        description: p.description,
        brand: p.brand,
        category,
        price: { amount: p.priceAmount, currency: p.currency },
        images: p.images,
        attributes: p.attributes,
        status: p.status,
        stock: p.stock,
      })}\n`;
      if (chunk.length > 1 << 16) {
        yield chunk;
        chunk = '';
      }
    }
    yield chunk;
  }
  await pipeline(lines, createWriteStream(file));
}

/** The same rows as COPY text (category slugs resolved to ids), streamed from file to file. */
async function writeCopyRows(
  source: string,
  target: string,
  categoryIds: Map<string, number>,
  prefix: string,
): Promise<void> {
  async function* lines() {
    let chunk = '';
    for await (const line of createInterface({ input: createReadStream(source), crlfDelay: Infinity })) {
      const p = JSON.parse(line);
      chunk += `${[
        copyText(prefix + p.sku),
        copyText(prefix + p.slug),
        copyText(p.name),
        copyText(p.description),
        p.brand === null ? '\\N' : copyText(p.brand),
        categoryIds.get(p.category),
        p.price.amount,
        p.price.currency,
        copyText(JSON.stringify(p.images)),
        copyText(JSON.stringify(p.attributes)),
        p.status,
        p.stock,
      ].join('\t')}\n`;
      if (chunk.length > 1 << 16) {
        yield chunk;
        chunk = '';
      }
    }
    yield chunk;
  }
  await pipeline(lines, createWriteStream(target));
}

/** Streams the file to the import route; answers the report. Plain http: no client timeout. */
function postFile(url: string, apiKey: string, file: string, size: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/imports/products`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/x-ndjson',
          'content-length': String(size),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (part: string) => (text += part));
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(JSON.parse(text))
            : reject(new Error(`import answered ${response.statusCode}: ${text.slice(0, 500)}`)),
        );
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

/** Resident memory of `pid` in MB from /proc: now (VmRSS) or its high-water mark (VmHWM). */
async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) / 1024;
}

export async function benchImport(options: ImportBenchOptions): Promise<ImportBenchFigures> {
  const { url, apiKey, databaseUrl, rows, apiPid } = options;
  const folder = await mkdtemp(join(tmpdir(), 'bench-import-'));
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const ndjson = join(folder, 'products.ndjson');
    await writeRows(ndjson, rows, await leafSlugs(url));
    const size = (await stat(ndjson)).size;

    // The peak is the process's since it started: reset it to the current size (proc(5) clear_refs).
    const startRss = await rssMb(apiPid, 'VmRSS');
    await writeFile(`/proc/${apiPid}/clear_refs`, '5');
    const importStarted = performance.now();
    const report = await postFile(url, apiKey, ndjson, size);
    const importSeconds = (performance.now() - importStarted) / 1000;
    if (report.created !== rows) throw new Error(`the import created ${String(report.created)} of ${rows} rows`);
    const peak = await rssMb(apiPid, 'VmHWM');

    const { rows: categories } = await pool.query<{ id: number; slug: string }>('SELECT id, slug FROM categories');
    const ids = new Map(categories.map((c) => [c.slug, c.id]));
    const copyFile = join(folder, 'products.copy');
    // The same rows under other skus and slugs (the imported ones are taken).
    await writeCopyRows(ndjson, copyFile, ids, 'raw-');
    const client = await pool.connect();
    const timedCopy = async (table: string) => {
      const started = performance.now();
      await pipeline(createReadStream(copyFile), client.query(copyFrom(`COPY ${table} (${COLUMNS}) FROM STDIN`)));
      return (performance.now() - started) / 1000;
    };
    let copySeconds: number;
    let bareCopySeconds: number;
    try {
      // Into the catalogue itself, with everything a product row brings (its indexes, the search
      // rows its trigger writes), then rolled back: the raw ceiling of the same rows.
      await client.query('BEGIN');
      copySeconds = await timedCopy('products');
      await client.query('ROLLBACK');
      // Into a bare table with the products table's indexes only (no triggers): the disk's pace.
      await client.query('DROP TABLE IF EXISTS bench_import_copy');
      await client.query('CREATE TABLE bench_import_copy (LIKE products INCLUDING ALL)');
      bareCopySeconds = await timedCopy('bench_import_copy');
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.query('DROP TABLE IF EXISTS bench_import_copy');
      client.release();
    }

    const importRowsPerSecond = rows / importSeconds;
    const copyRowsPerSecond = rows / copySeconds;
    return {
      rows,
      importRowsPerSecond,
      copyRowsPerSecond,
      bareCopyRowsPerSecond: rows / bareCopySeconds,
      ratio: importRowsPerSecond / copyRowsPerSecond,
      startRssMb: startRss,
      peakRssMb: peak,
    };
  } finally {
    await pool.end();
    await rm(folder, { recursive: true, force: true });
  }
}

/** The child process: the API as production builds it, on DATABASE_URL, until SIGTERM. */
async function serve() {
  const { buildApp } = await import('../api/src/app.ts');
  const { loadConfig } = await import('../api/src/config.ts');
  const { createDatabase } = await import('../api/src/db/database.ts');
  const database = createDatabase(process.env.DATABASE_URL!);
  // Production's defaults, without the logs, the response cache and the rate limits.
  const config = loadConfig({
    CURSOR_SECRET: 'bench-cursor-secret-0123456789',
    LOG_LEVEL: 'silent',
    RESPONSE_CACHE_TTL_MS: '0',
    RATE_LIMIT_READS_PER_MINUTE: '0',
    RATE_LIMIT_WRITES_PER_MINUTE: '0',
  });
  const app = await buildApp({ config, database, logger: false });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  console.log(JSON.stringify({ url: address }));
  process.once('SIGTERM', async () => {
    await app.close();
    await database.close();
  });
}

/**
 * The import bench in its own database on `server` (so the main bench's catalogue is untouched,
 * --reuse included): migrates it, seeds the category tree and 1,000 products, runs the API in a
 * child process, measures, then stops the child and drops the database.
 */
export async function benchImportOn(
  server: EmbeddedPostgres,
  rows: number,
  log: (message: string) => void,
): Promise<ImportBenchFigures> {
  const { createDatabase, migrateDatabase } = await import('../api/src/db/database.ts');
  const { createDatabaseIfMissing } = await import('../api/src/runtime.ts');
  const { seedCatalogue } = await import('../api/src/seed/load.ts');
  const { KeyRepository } = await import('../api/src/auth/keys.ts');

  const name = 'bench_import';
  const admin = new pg.Client({ connectionString: server.urlFor('postgres') });
  await admin.connect();
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await createDatabaseIfMissing(server, name);
    const databaseUrl = server.urlFor(name);
    const database = createDatabase(databaseUrl);
    await migrateDatabase(database);
    await seedCatalogue(database.pool, { products: 1_000 });
    const key = await new KeyRepository(database.db).create('bench-import', ['catalog:write']);
    await database.close();

    child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).once('line', resolve);
      child!.once('exit', (code) => reject(new Error(`the API exited with ${code}`)));
    });
    const { url } = JSON.parse(firstLine) as { url: string };
    log(`Importing ${rows.toLocaleString('en')} products through ${url}, then COPYing them`);
    return await benchImport({ url, apiKey: key.secret, databaseUrl, rows, apiPid: child.pid! });
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** The figures as lines of a table, for the bench's report. */
export function importFigureLines(figures: ImportBenchFigures): string[] {
  const format = (n: number) => Math.round(n).toLocaleString('en');
  return [
    `Import: ${format(figures.rows)} rows; the API process's resident memory: ${format(figures.startRssMb)} MB at the start, ${format(figures.peakRssMb)} MB at its peak during the import.`,
    '',
    '| import | rows/s |',
    '| --- | ---: |',
    `| POST /v1/imports/products (NDJSON over HTTP, upsert by sku, ledger) | ${format(figures.importRowsPerSecond)} |`,
    `| raw COPY of the same rows into products (its indexes and search trigger; rolled back): the ceiling | ${format(figures.copyRowsPerSecond)} |`,
    `| raw COPY of the same rows into a bare table LIKE products INCLUDING ALL (indexes, no triggers) | ${format(figures.bareCopyRowsPerSecond)} |`,
  ];
}

async function standalone(rows: number) {
  const { startEmbeddedPostgres } = await import('../api/src/dev/embedded-postgres.ts');
  const log = (message: string) => process.stderr.write(`${message}\n`);
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-import-pg-'));
  const server = await startEmbeddedPostgres({ dataDir });
  try {
    const figures = await benchImportOn(server, rows, log);
    console.log(importFigureLines(figures).join('\n'));
    console.log(
      `\nratio import / COPY: ${figures.ratio.toFixed(2)} (target ≥ 0.5 ${figures.ratio >= 0.5 ? '✓' : '✗ missed'})`,
    );
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { rows: { type: 'string', default: '1000000' }, serve: { type: 'boolean', default: false } },
  });
  await (values.serve ? serve() : standalone(Number(values.rows)));
}
