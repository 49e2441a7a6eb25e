import { execFile } from 'node:child_process';
import { appendFile, chown, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { InjectOptions } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createDatabase, migrateDatabase, type Database } from '../src/db/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { createDatabaseIfMissing } from '../src/runtime.ts';
import { testConfig } from './support/database.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';
import { startMeiliStandIn } from '@catalogue/testing/meili-standin';

const run = promisify(execFile);

/** The app's pools are named after it (db/database.ts): `<name>`, `<name>-pages`, `<name>-search`, `<name>-read`. */
const APP = 'replica-test';
const PRIMARY_POOL = APP;
const READ_SIDE = [`${APP}-pages`, `${APP}-search`, `${APP}-read`];
/** Generous: the replica streams within milliseconds, but two cores are shared with other test runs. */
const REPLAY_TIMEOUT_MS = 30_000;
const POLL_MS = 25;


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs = REPLAY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/**
 * A primary and a streaming replica of it, both embedded servers. The embedded package has no
 * pg_basebackup, so the base backup is made the way it allows: the primary's folder copied while
 * it is cleanly stopped (`cp -a`, which keeps the postgres user's ownership). The copy starts as a
 * standby (standby.signal) that streams the primary's WAL (primary_conninfo); the initdb's
 * pg_hba.conf already lets 127.0.0.1 connect for replication, and wal_level=replica and
 * max_wal_senders=10 are PostgreSQL's defaults. The copy is taken before the catalogue exists:
 * everything the replica ever holds of it has come by streaming.
 */
async function startPrimaryAndReplica() {
  const primaryDir = await mkdtemp(join(tmpdir(), 'catalogue-primary-'));
  const replicaDir = await mkdtemp(join(tmpdir(), 'catalogue-replica-'));
  const servers: EmbeddedPostgres[] = [];
  const stop = async () => {
    for (const server of servers.reverse()) await server.stop();
    await rm(primaryDir, { recursive: true, force: true });
    await rm(replicaDir, { recursive: true, force: true });
  };
  try {
    await (await startEmbeddedPostgres({ dataDir: primaryDir })).stop();
    await run('cp', ['-a', `${primaryDir}/.`, replicaDir]);
    const primary = await startEmbeddedPostgres({ dataDir: primaryDir });
    servers.push(primary);

    const pgdata = join(replicaDir, 'postgres');
    const owner = await stat(pgdata);
    await writeFile(join(pgdata, 'standby.signal'), '');
    await chown(join(pgdata, 'standby.signal'), owner.uid, owner.gid);
    const { password } = new URL(primary.url);
    const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres password=${decodeURIComponent(password)} application_name=replica`;
    await appendFile(join(pgdata, 'postgresql.auto.conf'), `primary_conninfo = '${conninfo}'\n`);
    const replica = await startEmbeddedPostgres({ dataDir: replicaDir });
    servers.push(replica);
    return { primary, replica, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Watches one server: which of the app's pools ran a statement on it. */
class Observer {
  readonly pool: pg.Pool;
  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 1, application_name: 'observer' });
    // The replica is stopped on purpose: its idle connection's end is no failure.
    this.pool.on('error', () => undefined);
  }

  /** The server's clock, as text: microseconds, as pg_stat_activity records them. */
  async now(): Promise<string> {
    const { rows } = await this.pool.query<{ now: string }>('SELECT clock_timestamp()::text AS now');
    return rows[0]!.now;
  }

  /** The app's pools with a connection that started a statement here since `since`. */
  async poolsActiveSince(since: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT DISTINCT application_name AS name FROM pg_stat_activity
        WHERE application_name LIKE $1 AND query_start >= $2::timestamptz ORDER BY 1`,
      [`${APP}%`, since],
    );
    return rows.map((row) => row.name);
  }

  /** Whether a connection of the app has run a statement matching `pattern` and is idle again. */
  async ran(pattern: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1 AND state = 'idle' AND query ILIKE $2`,
      [`${APP}%`, pattern],
    );
    return (rowCount ?? 0) > 0;
  }
}

describe('read replica (DATABASE_READ_URL)', () => {
  let servers: Awaited<ReturnType<typeof startPrimaryAndReplica>>;
  let primaryUrl: string;
  let replicaUrl: string;
  let database: Database;
  let app: App;
  let onPrimary: Observer;
  let onReplica: Observer;
  let writer: string;
  let productId: number;

  const auth = { authorization: '' };

  /** Waits until the replica has replayed everything the primary has written so far. */
  async function replayed(): Promise<void> {
    const { rows } = await onPrimary.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await until('the replica to replay the primary', async () => {
      const { rows: replay } = await onReplica.pool.query<{ done: boolean }>(
        'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
        [rows[0]!.lsn],
      );
      return replay[0]!.done;
    });
  }

  /** Sends a request and says which of the app's pools ran statements on which server meanwhile. */
  async function served(request: InjectOptions, to: App = app) {
    const since = { primary: await onPrimary.now(), replica: await onReplica.now() };
    const response = await to.inject(request);
    return {
      response,
      primary: await onPrimary.poolsActiveSince(since.primary),
      replica: await onReplica.poolsActiveSince(since.replica),
    };
  }

  beforeAll(async () => {
    servers = await startPrimaryAndReplica();
    await createDatabaseIfMissing(servers.primary, 'catalogue');
    primaryUrl = servers.primary.urlFor('catalogue');
    replicaUrl = servers.replica.urlFor('catalogue');
    onPrimary = new Observer(servers.primary.url);
    onReplica = new Observer(servers.replica.url);

    database = createDatabase(primaryUrl, { readUrl: replicaUrl, applicationName: APP, poolSize: 3 });
    await migrateDatabase(database);
    const ids = await insertTree(database);
    const rows = await insertProducts(database, [
      productRow({ categoryId: ids.running, name: 'Trail runner Zephyr', slug: 'trail-runner-zephyr', stock: 4 }),
      productRow({ categoryId: ids.hiking, name: 'Hiking boot Granite' }),
      productRow({ categoryId: ids.kitchen, name: 'Kettle Vantrelle' }),
    ]);
    productId = rows[0]!.id;
    // As the seed does: the words search corrects typos against.
    await database.pool.query('REFRESH MATERIALIZED VIEW search_words');
    await replayed();

    app = await buildApp({ config: testConfig(), database, logger: false });
    await app.ready();
    writer = (await app.keys.create('writer', ['catalog:write', 'stock:write'])).secret;
    auth.authorization = `Bearer ${writer}`;
    // Background statements on the primary, out of the way before anything is measured: the
    // search words' check at start, and the key's first last-use write (then once a minute).
    expect((await app.inject({ url: '/v1/keys/me', headers: auth })).statusCode).toBe(200);
    await until('the start-up check of search words', () => onPrimary.ran('%FROM search_words%'));
    await until('the key’s last-use write', () => onPrimary.ran('%update "api_keys"%'));
  });

  afterAll(async () => {
    await app?.close();
    await database?.close();
    await onPrimary?.pool.end();
    await onReplica?.pool.end();
    await servers?.stop();
  });

  it('has a real streaming replica: in recovery, fed by the primary, read-only', async () => {
    const { rows: standby } = await onReplica.pool.query<{ recovery: boolean }>(
      'SELECT pg_is_in_recovery() AS recovery',
    );
    expect(standby[0]!.recovery).toBe(true);
    const { rows: senders } = await onPrimary.pool.query<{ application_name: string; state: string }>(
      'SELECT application_name, state FROM pg_stat_replication',
    );
    expect(senders).toEqual([{ application_name: 'replica', state: 'streaming' }]);
    // The catalogue was created after the copy: the replica has it by streaming alone.
    const count = 'SELECT count(*)::int AS n FROM products';
    const replicaCount = (await database.readPool.query<{ n: number }>(count)).rows[0]!.n;
    expect(replicaCount).toBe(3);
    expect(replicaCount).toBe((await database.pool.query<{ n: number }>(count)).rows[0]!.n);
    await expect(database.readPool.query("UPDATE products SET name = 'x'")).rejects.toThrow(/read-only transaction/);
  });

  it('serves public reads from the replica alone', async () => {
    const reads: [string, string][] = [
      ['/v1/products', `${APP}-pages`],
      ['/v1/products?category=shoes&sort=price_asc&limit=1', `${APP}-pages`],
      ['/v1/products?updated_after=2000-01-01T00:00:00Z&sort=updated', `${APP}-read`],
      ['/v1/products/trail-runner-zephyr', `${APP}-read`],
      ['/v1/categories', `${APP}-read`],
      ['/v1/search?q=trail', `${APP}-search`],
      ['/v1/search?q=granit&category=apparel', `${APP}-search`],
    ];
    for (const [url, pool] of reads) {
      const { response, primary, replica } = await served({ url });
      expect(response.statusCode, url).toBe(200);
      expect(primary, url).toEqual([]);
      expect(replica, url).toContain(pool);
      expect(READ_SIDE, url).toEqual(expect.arrayContaining(replica));
    }
    const search = (await app.inject('/v1/search?q=trail')).json();
    expect(search.hits.map((hit: { slug: string }) => hit.slug)).toEqual(['trail-runner-zephyr']);
    // An image touches neither server.
    const image = await served({ url: '/media/placeholder/p1.svg' });
    expect(image.response.statusCode).toBe(200);
    expect([image.primary, image.replica]).toEqual([[], []]);
  });

  it('writes on the primary alone, and the replica has the change by streaming', async () => {
    const created = await served({
      method: 'POST',
      url: '/v1/products',
      headers: auth,
      payload: {
        sku: 'NEW-1',
        slug: 'canvas-tote',
        name: 'Canvas tote',
        category: 'shirts',
        price: { amount: 1500, currency: 'EUR' },
        status: 'active',
        stock: 2,
      },
    });
    expect(created.response.statusCode).toBe(201);
    expect(created.primary).toEqual([PRIMARY_POOL]);
    expect(created.replica).toEqual([]);
    const { id, version } = created.response.json() as { id: number; version: number };

    // The answer to a change is read in the write's own transaction, and the slug it names is
    // resolved on the primary: a replica a moment behind would not know the product yet.
    const patched = await served({
      method: 'PATCH',
      url: '/v1/products/canvas-tote',
      headers: { ...auth, 'if-match': `"${version}"` },
      payload: { name: 'Canvas tote bag' },
    });
    expect(patched.response.statusCode).toBe(200);
    expect(patched.response.json()).toMatchObject({ id, name: 'Canvas tote bag', version: version + 1 });
    expect(patched.primary).toEqual([PRIMARY_POOL]);
    expect(patched.replica).toEqual([]);

    await replayed();
    const read = await served({ url: '/v1/products/canvas-tote' });
    expect(read.response.statusCode).toBe(200);
    expect(read.response.json()).toMatchObject({ id, name: 'Canvas tote bag', version: version + 1 });
    expect(read.response.headers.etag).toBe(`"${version + 1}"`);
    expect(read.primary).toEqual([]);
    expect(read.replica).toEqual([`${APP}-read`]);
  });

  it('reads stock, its ledger and the key on the primary: they must see the write just made', async () => {
    const adjusted = await served({
      method: 'POST',
      url: `/v1/products/${productId}/stock-adjustments`,
      headers: auth,
      payload: { delta: -3, reason: 'sale' },
    });
    expect(adjusted.response.statusCode).toBe(201);
    expect(adjusted.primary).toEqual([PRIMARY_POOL]);
    expect(adjusted.replica).toEqual([]);

    // At once, without waiting for the replica.
    const levels = await served({ url: `/v1/stock-levels?id=${productId}`, headers: auth });
    expect(levels.response.json().data).toMatchObject([{ id: productId, stock: 1 }]);
    expect(levels.primary).toEqual([PRIMARY_POOL]);
    expect(levels.replica).toEqual([]);

    const movements = await served({ url: `/v1/products/${productId}/stock-movements`, headers: auth });
    expect(movements.response.json().data[0]).toMatchObject({ delta: -3, stock_after: 1, reason: 'sale' });
    expect(movements.primary).toEqual([PRIMARY_POOL]);
    expect(movements.replica).toEqual([]);

    const me = await served({ url: '/v1/keys/me', headers: auth });
    expect(me.response.statusCode).toBe(200);
    expect(me.replica).toEqual([]);
  });

  it('with the replica behind: public reads show its data; stock and If-Match, the primary’s', async () => {
    // Replication lag on demand: the replica stops replaying (it keeps receiving).
    await onReplica.pool.query('SELECT pg_wal_replay_pause()');
    await until('the replica to pause', async () => {
      const { rows } = await onReplica.pool.query<{ state: string }>('SELECT pg_get_wal_replay_pause_state() AS state');
      return rows[0]!.state === 'paused';
    });
    try {
      const before = await app.inject('/v1/products/trail-runner-zephyr');
      const patched = await app.inject({
        method: 'PATCH',
        url: '/v1/products/trail-runner-zephyr',
        headers: auth,
        payload: { name: 'Trail runner Zephyr II' },
      });
      expect(patched.statusCode).toBe(200);
      expect(patched.json().name).toBe('Trail runner Zephyr II');

      const lagging = await app.inject('/v1/products/trail-runner-zephyr');
      expect(lagging.json()).toMatchObject({ name: 'Trail runner Zephyr', version: before.json().version });
      const levels = await app.inject({ url: `/v1/stock-levels?id=${productId}`, headers: auth });
      expect(levels.json().data).toMatchObject([{ name: 'Trail runner Zephyr II', version: patched.json().version }]);
      // A change prepared on the replica's older copy is refused by the primary's check.
      const stale = await app.inject({
        method: 'PATCH',
        url: '/v1/products/trail-runner-zephyr',
        headers: { ...auth, 'if-match': lagging.headers.etag as string },
        payload: { name: 'Lost update' },
      });
      expect(stale.statusCode).toBe(412);
      expect(stale.json().current_version).toBe(patched.json().version);
    } finally {
      await onReplica.pool.query('SELECT pg_wal_replay_resume()');
    }
    await replayed();
    expect((await app.inject('/v1/products/trail-runner-zephyr')).json().name).toBe('Trail runner Zephyr II');
  });

  it('with Meilisearch (the in-process stand-in), reads the hits’ products on the replica', async () => {
    const standIn = await startMeiliStandIn();
    const meiliApp = await buildApp({
      config: testConfig({
        MEILISEARCH_URL: standIn.url,
        MEILISEARCH_KEY: standIn.key,
        MEILISEARCH_INDEX: 'products_replica',
        SEARCH_INDEXER: 'off',
      }),
      database,
      logger: false,
    });
    try {
      await meiliApp.ready();
      // Built at start from the primary, in the background.
      await until('the search index', async () => (await meiliApp.searchService.fallback()) === null);
      const found = await served({ url: '/v1/search?q=granite' }, meiliApp);
      expect(found.response.json()).toMatchObject({ engine: 'meilisearch', hits: [{ name: 'Hiking boot Granite' }] });
      expect(found.replica).toContain(`${APP}-read`);
      // The primary answers only how far the index is behind its outbox.
      expect(found.primary).toEqual([PRIMARY_POOL]);
      expect(standIn.violations).toEqual([]);
    } finally {
      await meiliApp.close();
      await standIn.stop();
    }
  });

  it('is ready while both servers answer', async () => {
    const ready = await served({ url: '/readyz' });
    expect(ready.response.statusCode).toBe(200);
    expect(ready.primary).toEqual([PRIMARY_POOL]);
    expect(ready.replica).toEqual([`${APP}-read`]);
  });

  it('with the replica down: writes still work, public reads answer 503, the API is not ready', async () => {
    await servers.replica.stop();

    const created = await app.inject({
      method: 'POST',
      url: '/v1/products',
      headers: auth,
      payload: {
        sku: 'NEW-2',
        slug: 'linen-shirt',
        name: 'Linen shirt',
        category: 'shirts',
        price: { amount: 3900, currency: 'EUR' },
      },
    });
    expect(created.statusCode).toBe(201);
    const levels = await app.inject({ url: `/v1/stock-levels?id=${productId}`, headers: auth });
    expect(levels.statusCode).toBe(200);

    for (const url of ['/v1/products', '/v1/products/trail-runner-zephyr', '/v1/search?q=trail']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(503);
      expect(response.headers['content-type'], url).toMatch(/^application\/problem\+json/);
    }

    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 503, detail: 'The read replica is unreachable.' });
  });
});

describe('DATABASE_READ_URL', () => {
  it('is taken with DATABASE_URL, and refused without it', () => {
    const primary = 'postgres://app@db-primary:5432/catalogue';
    const replica = 'postgres://app@db-replica:5432/catalogue';
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica }).DATABASE_READ_URL).toBe(replica);
    expect(() => loadConfig({ DATABASE_READ_URL: replica })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: 'mysql://x' })).toThrow(/DATABASE_READ_URL/);
  });

  it('unset, leaves one server: public reads share the primary’s pool, no pool more', async () => {
    const database = createDatabase('postgres://nobody@127.0.0.1:1/none');
    expect(database.readPool).toBe(database.pool);
    expect(database.readDb).toBe(database.db);
    expect(Object.keys(database.pools)).toEqual(['primary', 'pages', 'search']);
    await database.close();

    const replicated = createDatabase('postgres://nobody@127.0.0.1:1/none', {
      readUrl: 'postgres://nobody@127.0.0.1:2/none',
    });
    expect(replicated.readPool).not.toBe(replicated.pool);
    expect(Object.keys(replicated.pools)).toEqual(['primary', 'pages', 'search', 'read']);
    await replicated.close();
  });
});
