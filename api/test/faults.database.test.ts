import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import type { FastifyError, FastifyRequest } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRepository } from '../src/auth/keys.ts';
import { createDatabase, migrateDatabase, type Database } from '../src/db/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { isDatabaseUnavailable, toProblem } from '../src/http/problem.ts';
import { createDatabaseIfMissing } from '../src/runtime.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';
import { freePort, startNode, waitFor, type Running } from '@catalogue/testing/process';

/**
 * PostgreSQL stopped (fast shutdown: every session cut, as a crash would) and started again under
 * the API's feet, the API running as the real server process: it answers 503 problem+json at
 * once while the database is away, serves again by itself once it is back, and no write it
 * acknowledged is lost or applied twice. The database here is a server of this file's own (not
 * the run's shared one), so that stopping it disturbs no other file.
 */

const PROBLEM_JSON = 'application/problem+json';
const DATABASE_UNAVAILABLE = 'https://catalogue.dev/problems/database-unavailable';
/**
 * While PostgreSQL is down, a request fails on connecting (refused on loopback at once) or on its
 * query (the server cuts it at once on a fast shutdown): milliseconds. A second leaves room for a
 * shared two-core machine, and is still five times shorter than the pool's connect timeout, the
 * first thing a hanging request would wait for.
 */
const OUTAGE_ANSWER_BOUND_MS = 1_000;
/** The acceptance's bound: serving again within 5 s of PostgreSQL's return. */
const RECOVERY_BOUND_MS = 5_000;
/** A request taking this long is recorded as hanging (and fails the test). */
const REQUEST_TIMEOUT_MS = 10_000;
const STOCK_START = 1_000_000;

type Kind = 'page' | 'product' | 'search' | 'stock' | 'ready';

interface Outcome {
  kind: Kind;
  start: number;
  end: number;
  /** The HTTP status, or 0 when no answer came (the error says why). */
  status: number;
  problemType?: string;
  contentType?: string;
  retryAfter?: string | null;
  /** A problem's detail. */
  detail?: string;
  /** The stored answer of an earlier attempt with the same Idempotency-Key. */
  replayed?: boolean;
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(base: string, kind: Kind, path: string, init: RequestInit = {}): Promise<Outcome> {
  const start = performance.now();
  try {
    const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const contentType = response.headers.get('content-type') ?? '';
    const text = await response.text();
    const problem = contentType.startsWith(PROBLEM_JSON)
      ? (JSON.parse(text) as { type: string; detail?: string })
      : undefined;
    return {
      kind,
      start,
      end: performance.now(),
      status: response.status,
      contentType,
      problemType: problem?.type,
      detail: problem?.detail,
      retryAfter: response.headers.get('retry-after'),
      replayed: response.headers.get('idempotent-replayed') === 'true',
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { kind, start, end: performance.now(), status: 0, error: cause?.code ?? (error as Error).name };
  }
}

const isUnavailable = (o: Outcome) =>
  o.status === 503 && o.contentType?.startsWith(PROBLEM_JSON) === true && o.problemType === DATABASE_UNAVAILABLE;
const ok = (o: Outcome) => o.status >= 200 && o.status < 300;
const percentile = (values: number[], p: number) =>
  values.length === 0
    ? 0
    : [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

describe('errors that mean the database is unavailable', () => {
  const sqlState = (code: string, message: string) =>
    Object.assign(new pg.DatabaseError(message, 100, 'error'), { code });
  const system = (code: string) => Object.assign(new Error(`connect ${code} 10.1.2.3:5432`), { code });
  const viaDrizzle = (cause: Error) => new DrizzleQueryError('select 1 from products', [], cause);

  it('are told apart from the other database errors, wrapped or not', () => {
    const unavailable = [
      system('ECONNREFUSED'),
      system('ECONNRESET'),
      new AggregateError([system('ECONNREFUSED'), system('ECONNREFUSED')], 'connect failed'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout', { cause: system('ETIMEDOUT') }),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      sqlState('57P01', 'terminating connection due to administrator command'),
      sqlState('57P02', 'terminating connection because of crash of another server process'),
      sqlState('57P03', 'the database system is shutting down'),
      sqlState('08006', 'connection failure'),
      sqlState('08001', 'could not connect'),
    ];
    for (const error of unavailable) {
      expect(isDatabaseUnavailable(error), error.message).toBe(true);
      expect(isDatabaseUnavailable(viaDrizzle(error)), `wrapped: ${error.message}`).toBe(true);
    }
    const other = [
      sqlState('23505', 'duplicate key value violates unique constraint'),
      sqlState('40001', 'could not serialize access'),
      sqlState('57014', 'canceling statement due to statement timeout'),
      sqlState('53300', 'sorry, too many clients already'),
      new Error('relation "products" does not exist'),
      new TypeError("Cannot read properties of undefined (reading 'id')"),
    ];
    for (const error of other) {
      expect(isDatabaseUnavailable(error), error.message).toBe(false);
      expect(isDatabaseUnavailable(viaDrizzle(error)), `wrapped: ${error.message}`).toBe(false);
    }
  });

  it('answer 503 problem+json that names no internals', () => {
    const request = { id: 'req-1' } as FastifyRequest;
    // What a route throws reaches the error handler as is, typed as Fastify's error.
    const thrown = (error: Error) => error as unknown as FastifyError;
    const problem = toProblem(thrown(viaDrizzle(system('ECONNREFUSED'))), request);
    expect(problem).toMatchObject({ status: 503, type: DATABASE_UNAVAILABLE, instance: 'req-1' });
    expect(JSON.stringify(problem)).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|5432|select/i);
    expect(toProblem(thrown(viaDrizzle(sqlState('23505', 'duplicate key'))), request).status).toBe(500);
  });
});

describe('database faults: PostgreSQL stopped and started again under the API', () => {
  let dataDir: string;
  let server: EmbeddedPostgres;
  let url: string;
  let database: Database;
  let api: Running;
  let base: string;
  let secret: string;
  let productIds: number[];
  /** Products whose stock the load changes, from STOCK_START. */
  let stockIds: number[];

  /** Fast shutdown: PostgreSQL ends every session at once (57P01) and stops listening. */
  const stopPostgres = () => server.stop();
  /** The same cluster on the same port, as after a restart or a failover to the same address. */
  const startPostgres = async () => {
    server = await startEmbeddedPostgres({ dataDir, port: server.port });
  };

  const adjust = (id: number, delta: number, key: string) =>
    send(base, 'stock', `/v1/products/${id}/stock-adjustments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ delta, reason: 'fault test' }),
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'catalogue-faults-db-'));
    server = await startEmbeddedPostgres({ dataDir });
    await createDatabaseIfMissing(server, 'catalogue');
    url = server.urlFor('catalogue');
    database = createDatabase(url, { poolSize: 3, applicationName: 'faults-test' });
    await migrateDatabase(database);
    const tree = await insertTree(database);
    const rows = await insertProducts(
      database,
      Array.from({ length: 200 }, (_, i) =>
        productRow({
          categoryId: i % 2 ? tree.running : tree.kitchen,
          name: `${i % 2 ? 'Trail runner' : 'Copper kettle'} ${i}`,
          stock: i < 3 ? STOCK_START : 5,
        }),
      ),
    );
    productIds = rows.map((r) => r.id);
    stockIds = productIds.slice(0, 3);
    secret = (await new KeyRepository(database.db).create('faults', ['stock:write'])).secret;

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = startNode(['--import', 'tsx', 'api/src/server.ts'], {
      DATABASE_URL: url,
      DATA_DIR: join(dataDir, 'api'),
      API_PORT: String(port),
      MEILISEARCH_URL: '',
      // The load is one client: the limits would answer 429 to it, which is not what is measured.
      RATE_LIMIT_READS_PER_MINUTE: '0',
      RATE_LIMIT_WRITES_PER_MINUTE: '0',
      // A warning per refused request during the outage would only slow the machine down.
      LOG_LEVEL: 'error',
    });
    await waitFor(`${base}/readyz`, 60_000, api);
  });

  afterAll(async () => {
    if (api && api.child.exitCode === null) {
      api.child.kill('SIGTERM');
      await api.exited;
    }
    await database?.close();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('rolls back a transaction cut by the stop, and lets its 503 be retried with the same Idempotency-Key', async () => {
    const [id] = stockIds as [number];
    const key = `cut-${randomUUID()}`;
    const stockOf = async () =>
      (await database.pool.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [id])).rows[0]!.stock;
    const before = await stockOf();

    // Hold the product's row: the API's transaction claims the key, then waits on the row lock.
    const holder = new pg.Client({ connectionString: url });
    holder.on('error', () => undefined);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM products WHERE id = $1 FOR UPDATE', [id]);
    const cut = adjust(id, 7, key);
    // Asked from another connection: inside the holder's transaction, pg_stat_activity is a snapshot.
    const waiting = async () =>
      (
        await database.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'catalogue-api' AND wait_event_type = 'Lock'`,
        )
      ).rowCount === 1;
    const lockDeadline = performance.now() + 10_000;
    while (!(await waiting())) {
      if (performance.now() > lockDeadline)
        throw new Error(
          `the adjustment never waited on the row lock: ${JSON.stringify(await Promise.race([cut, 'pending']))}`,
        );
      await sleep(20);
    }

    await stopPostgres();
    const answer = await cut;
    expect(answer).toMatchObject({ status: 503, problemType: DATABASE_UNAVAILABLE, retryAfter: '1' });
    expect(answer.detail).not.toMatch(/terminating|administrator|127\.0\.0\.1|products/);
    await holder.end().catch(() => undefined);
    await startPostgres();

    // Nothing of it was kept: no claimed key, no ledger row, the stock as it was.
    const claimed = await database.pool.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key]);
    expect(claimed.rowCount).toBe(0);
    const movements = await database.pool.query('SELECT 1 FROM stock_movements WHERE idempotency_key = $1', [key]);
    expect(movements.rowCount).toBe(0);
    expect(await stockOf()).toBe(before);

    // The retry is applied (once: a second retry replays it).
    const deadline = performance.now() + RECOVERY_BOUND_MS;
    let retried = await adjust(id, 7, key);
    while (retried.status === 503 && performance.now() < deadline) retried = await adjust(id, 7, key);
    expect(retried.status).toBe(201);
    const replay = await fetch(`${base}/v1/products/${id}/stock-adjustments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ delta: 7, reason: 'fault test' }),
    });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await stockOf()).toBe(before + 7);
    const ledger = await database.pool.query('SELECT 1 FROM stock_movements WHERE idempotency_key = $1', [key]);
    expect(ledger.rowCount).toBe(1);
  });

  it(
    'under steady mixed load: 503 at once while down, /readyz failing, serving again within 5 s, no acknowledged write lost',
    { timeout: 120_000 },
    async () => {
      const startStock = new Map(
        (
          await database.pool.query<{ id: string; stock: number }>(
            'SELECT id, stock FROM products WHERE id = ANY($1::bigint[])',
            [stockIds],
          )
        ).rows.map((r) => [Number(r.id), r.stock]),
      );
      const { rows: mark } = await database.pool.query<{ last: string | null }>(
        'SELECT max(id) AS last FROM stock_movements',
      );
      const lastMovement = Number(mark[0]!.last ?? 0);
      const outcomes: Outcome[] = [];
      const acknowledged: { id: number; key: string; delta: number }[] = [];
      let stockAttempts = 0;
      let stopping = false;
      const pick = <T>(values: T[]) => values[Math.floor(Math.random() * values.length)]!;
      const record = (outcome: Outcome) => (outcomes.push(outcome), outcome);

      const readLoop = async (kind: Exclude<Kind, 'stock' | 'ready'>) => {
        while (!stopping) {
          const path =
            kind === 'page'
              ? `/v1/products?limit=${1 + Math.floor(Math.random() * 50)}&category=${pick(['running', 'kitchen', 'apparel', 'home'])}`
              : kind === 'product'
                ? `/v1/products/${pick(productIds)}`
                : `/v1/search?q=${pick(['kettle', 'trail', 'runner', 'copper'])}&limit=${1 + Math.floor(Math.random() * 24)}`;
          record(await send(base, kind, path));
          await sleep(5);
        }
      };
      // A client that retries a write with the same key until it gets a definite answer (2xx or
      // 4xx), as the API asks: each adjustment is then acknowledged exactly once or never applied.
      const stockLoop = async (id: number) => {
        while (!stopping) {
          const key = randomUUID();
          const delta = pick([1, 2, 3, -1, -2]);
          for (;;) {
            stockAttempts += 1;
            const outcome = record(await adjust(id, delta, key));
            if (ok(outcome)) {
              acknowledged.push({ id, key, delta });
              break;
            }
            if (outcome.status >= 400 && outcome.status < 500) break;
            await sleep(50);
          }
          await sleep(5);
        }
      };
      const readyLoop = async () => {
        while (!stopping) {
          record(await send(base, 'ready', '/readyz'));
          await sleep(100);
        }
      };

      const loops = [
        ...(['page', 'page', 'product', 'product', 'search', 'search'] as const).map(readLoop),
        ...stockIds.map(stockLoop),
        readyLoop(),
      ];
      await sleep(2_000);
      const stopAsked = performance.now();
      await stopPostgres();
      const down = performance.now();
      await sleep(3_000);
      const startAsked = performance.now();
      await startPostgres();
      const back = performance.now();
      await sleep(6_000);
      stopping = true;
      await Promise.all(loops);

      const traffic = outcomes.filter((o) => o.kind !== 'ready');
      const ready = outcomes.filter((o) => o.kind === 'ready');
      const within = (o: Outcome, from: number, to: number) => o.start >= from && o.end <= to;
      const outage = traffic.filter((o) => within(o, down, startAsked));
      const transitions = traffic.filter(
        (o) => !within(o, -Infinity, stopAsked) && !within(o, down, startAsked) && !within(o, back, Infinity),
      );
      // A public GET may be answered from the response cache (its TTL is 1 s) while the database
      // is down: counted apart.
      const cached = outage.filter((o) => ok(o) && (o.kind === 'page' || o.kind === 'product'));
      const refused = outage.filter(isUnavailable);
      const outageMs = outage.map((o) => o.end - o.start);
      const slowest = Math.max(...outageMs);
      const readyDuring = ready.filter((o) => within(o, down, startAsked));
      const readyAgain = ready.find((o) => o.start >= back && o.status === 200);
      // Recovered: from the end of the last failed request after the return, every one succeeded.
      const after = traffic.filter((o) => o.start >= back);
      const lastFailure = after
        .filter((o) => !ok(o))
        .sort((a, b) => a.end - b.end)
        .at(-1);
      const recoveredAt = lastFailure ? lastFailure.end : back;
      const recoveryMs = recoveredAt - back;
      const { rows: ledger } = await database.pool.query<{ product_id: string; key: string; delta: number }>(
        'SELECT product_id, idempotency_key AS key, delta FROM stock_movements WHERE id > $1',
        [lastMovement],
      );
      const replayed = traffic.filter((o) => o.kind === 'stock' && o.replayed).length;
      const counts = (list: Outcome[]) => {
        const found: Record<string, number> = {};
        for (const o of list) {
          const label = `${o.kind} ${o.status || o.error}`;
          found[label] = (found[label] ?? 0) + 1;
        }
        return JSON.stringify(found);
      };
      console.info(
        [
          'faults.database figures:',
          `  requests: ${traffic.length} and ${ready.length} to /readyz; faults injected: 1 (PostgreSQL fast shutdown, started again 3 s later)`,
          `  PostgreSQL: stopping took ${Math.round(down - stopAsked)} ms, starting ${Math.round(back - startAsked)} ms`,
          `  while down: ${outage.length} answers, ${refused.length} x 503 database-unavailable, ${cached.length} x 200 from the response cache, ${readyDuring.length} /readyz (${counts(readyDuring)})`,
          `  latency while down: p50 ${percentile(outageMs, 0.5).toFixed(1)} ms, p99 ${percentile(outageMs, 0.99).toFixed(1)} ms, max ${slowest.toFixed(1)} ms`,
          `  answers by kind and status: ${counts(traffic)}`,
          `  around the stop and the start: ${counts(transitions)}, slowest ${Math.max(...transitions.map((o) => o.end - o.start)).toFixed(1)} ms`,
          `  recovery: every request succeeding ${Math.round(recoveryMs)} ms after PostgreSQL accepted connections; /readyz 200 after ${readyAgain ? Math.round(readyAgain.end - back) : '-'} ms`,
          `  stock adjustments: ${acknowledged.length} acknowledged in ${stockAttempts} attempts (a 503 retried with the same key), ${replayed} of them replays of a write committed before its answer was lost, ${ledger.length} ledger rows`,
        ].join('\n'),
      );

      // The API process served throughout, and was never restarted.
      expect(api.child.exitCode).toBeNull();
      // While PostgreSQL is down: 503 problem+json with Retry-After, quickly, or a cached public GET.
      expect(
        outage.filter((o) => !cached.includes(o) && !isUnavailable(o)),
        'answers while down that are neither 503 problem+json nor a cached public GET',
      ).toEqual([]);
      expect(refused.length).toBeGreaterThan(50);
      expect(refused.every((o) => o.retryAfter === '1')).toBe(true);
      expect(slowest, 'slowest answer while down (ms)').toBeLessThan(OUTAGE_ANSWER_BOUND_MS);
      // Around the stop and the start: an answer or a 503, never a 500, a reset or a hang.
      expect(transitions.filter((o) => !ok(o) && !isUnavailable(o))).toEqual([]);
      expect(traffic.filter((o) => o.status === 0 || o.status === 500)).toEqual([]);

      expect(readyDuring.length).toBeGreaterThan(5);
      expect(readyDuring.every((o) => o.status === 503)).toBe(true);
      expect(readyAgain, '/readyz answering 200 after the return').toBeDefined();
      expect(ready.at(-1)!.status).toBe(200);

      expect(recoveryMs, 'ms from PostgreSQL accepting connections to every request succeeding').toBeLessThan(
        RECOVERY_BOUND_MS,
      );
      for (const kind of ['page', 'product', 'search', 'stock'] as const) {
        expect(after.filter((o) => o.kind === kind && o.start > recoveredAt).length, kind).toBeGreaterThan(5);
      }

      // No acknowledged write lost, none applied twice: the ledger holds each acknowledged key
      // once and nothing else, and the stock is where the acknowledged deltas took it.
      expect(ledger.map((r) => r.key).sort()).toEqual(acknowledged.map((a) => a.key).sort());
      for (const id of stockIds) {
        const { rows } = await database.pool.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [id]);
        const acked = acknowledged.filter((a) => a.id === id).reduce((sum, a) => sum + a.delta, 0);
        const recorded = ledger.filter((r) => Number(r.product_id) === id).reduce((sum, r) => sum + r.delta, 0);
        expect(rows[0]!.stock, `stock of product ${id}`).toBe(startStock.get(id)! + acked);
        expect(recorded, `ledger of product ${id}`).toBe(acked);
      }
      const unfinished = await database.pool.query('SELECT 1 FROM idempotency_keys WHERE status_code = 0');
      expect(unfinished.rowCount, 'idempotency keys claimed by a transaction that never finished').toBe(0);
    },
  );
});
