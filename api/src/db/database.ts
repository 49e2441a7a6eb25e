import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from './schema.ts';

export const migrationsFolder = fileURLToPath(new URL('../../../migrations', import.meta.url));

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  /** The connection string (for a connection of one's own, such as the indexer's LISTEN). */
  url: string;
  /** The read replica's connection string (DATABASE_READ_URL), when public reads go to one. */
  readUrl?: string;
  /** The primary: writes, and every read that must see them (see createDatabase). */
  pool: pg.Pool;
  /**
   * Public reads that neither pagePool nor searchPool serve (a product, the category tree, the
   * hits Meilisearch found): the read replica's connections when there is one, else `pool` itself.
   */
  readPool: pg.Pool;
  /**
   * Connections whose prepared statements always keep one generic plan, parsed and planned once:
   * only for statements whose best plan does not depend on their parameters' values (the product
   * pages without value-sensitive filters: an index range scan whatever the cursor or category;
   * see catalogue/page-query.ts). Planning every execution cost more than executing a page
   * (0.09 ms against 0.05 ms, and far more for a merged category).
   */
  pagePool: pg.Pool;
  /**
   * Connections for search (search/pg/engine.ts): matches are read through the GIN index, never by
   * a sequential scan (the planner misjudges how often a word occurs, and a scan that reads 300,000
   * rows to find 5,000 costs ten times the bitmap's), and in block order from the first block (a
   * synchronised scan would start anywhere, and the total's estimate relies on the order). Each
   * statement is planned once per connection (a generic plan: planning a search over the five
   * partitions of product_search cost more than 1 ms a time), by one process (no parallel workers:
   * four searches at once already fill two cores), and reads the blocks it needs itself (no
   * read-ahead through the I/O workers, whose hand-off cost more than the reads, served from the
   * operating system's cache: 7 ms instead of 8.5 at the median of the benchmark's mix).
   */
  searchPool: pg.Pool;
  /** Every pool above by name, for metrics (connections in use, idle, waited for). */
  pools: Record<string, pg.Pool>;
  db: Db;
  /** drizzle over readPool: `db` itself without a read replica. */
  readDb: Db;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  poolSize?: number;
  applicationName?: string;
  /** A read replica of `url` (DATABASE_READ_URL): public reads go there. */
  readUrl?: string;
}

export function createDatabase(url: string, options: DatabaseOptions = {}): Database {
  const settings = (name: string, connectionString: string, extra: pg.PoolConfig = {}) => {
    const pool = new pg.Pool({
      connectionString,
      max: options.poolSize ?? 10,
      application_name: name,
      // Fail fast rather than queue forever when the server is unreachable.
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      ...extra,
    });
    // An idle client losing its connection (server restart) must not crash the process.
    pool.on('error', () => undefined);
    // Nor one checked out (a transaction in progress): pg emits the loss on the client as well as
    // failing its query, and the pool listens only while the client is idle. The query's error
    // answers the request; the pool discards the dead client when it is released.
    pool.on('connect', (client) => client.on('error', () => undefined));
    return pool;
  };
  const applicationName = options.applicationName ?? 'catalogue-api';
  // Which server each pool reads. With a read URL (a streaming replica, which may be a moment
  // behind the primary), the pools serving public reads connect to it: the product pages, search,
  // and readPool for the other public reads (a product, the category tree and its counts, the
  // hits Meilisearch found). Public reads tolerate that lag: they are cached for seconds anyway.
  // Everything else stays on the primary: writes, and every read that must see a write just made
  // or decides one (API keys, stock levels and movements, the product a write answers with, a
  // slug resolved for a write, If-Match, imports' categories, idempotency answers, the search
  // outbox and indexer, search words' refresh, migrations). Without a read URL there is one
  // server: readPool is `pool`, and no connection more is opened.
  const readUrl = options.readUrl;
  // Imports stage their batches in temporary tables (imports/staging.ts), which want more than
  // the default 8 MB of session buffers. Set when the connection opens: a session can no longer
  // change it once any temporary table was touched (a concurrent refresh of a materialized view
  // uses some), and buffers are only allocated as temporary tables use them.
  const pool = settings(applicationName, url, { options: '-c temp_buffers=256MB' });
  // Connections open on first use: a process that serves no product page opens none.
  const pagePool = settings(`${applicationName}-pages`, readUrl ?? url, {
    options: '-c plan_cache_mode=force_generic_plan',
  });
  const searchPool = settings(`${applicationName}-search`, readUrl ?? url, {
    options: [
      '-c enable_seqscan=off -c synchronize_seqscans=off -c work_mem=16MB',
      '-c plan_cache_mode=force_generic_plan -c max_parallel_workers_per_gather=0 -c effective_io_concurrency=0',
    ].join(' '),
  });
  const readPool = readUrl ? settings(`${applicationName}-read`, readUrl) : pool;
  const db = drizzle(pool, { schema, casing: 'snake_case' });
  const readDb = readUrl ? drizzle(readPool, { schema, casing: 'snake_case' }) : db;
  const pools: Record<string, pg.Pool> = {
    primary: pool,
    pages: pagePool,
    search: searchPool,
    ...(readUrl ? { read: readPool } : {}),
  };
  let closed: Promise<void> | undefined;
  return {
    url,
    readUrl,
    pool,
    readPool,
    pagePool,
    searchPool,
    pools,
    db,
    readDb,
    close: () => (closed ??= Promise.all(Object.values(pools).map((p) => p.end())).then(() => undefined)),
  };
}

/** Arbitrary constant: serialises migrations (and the first seed) across processes starting at once. */
const MIGRATION_LOCK = 727_001;

/** Applies the pending migrations in order, one process at a time. */
export async function migrateDatabase(database: Database): Promise<void> {
  const client = await database.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migrate(drizzle(client, { schema, casing: 'snake_case' }), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

const expectedMigrations: number = (
  JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as { entries: unknown[] }
).entries.length;

/** True when every migration this code knows has been applied (what /readyz checks). */
export async function isMigrated(database: Database): Promise<boolean> {
  const { rows } = await database.pool
    .query<{ applied: number }>(`SELECT count(*)::int AS applied FROM drizzle.__drizzle_migrations`)
    .catch((error: { code?: string }) => {
      if (error.code === '42P01' || error.code === '3F000') return { rows: [{ applied: 0 }] };
      throw error;
    });
  return (rows[0]?.applied ?? 0) >= expectedMigrations;
}

/**
 * True when the read replica answers, or there is none (what /readyz checks besides the primary).
 * Only that it answers: how far behind it is, replication's monitoring says (pg_stat_replication).
 */
export async function replicaAnswers(database: Database): Promise<boolean> {
  if (!database.readUrl) return true;
  return database.readPool.query('SELECT 1').then(
    () => true,
    () => false,
  );
}
