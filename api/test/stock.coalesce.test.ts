import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { StockCoalescer } from '../src/stock/coalescer.ts';
import { StockRepository, type AdjustResult, type Adjustment } from '../src/stock/repository.ts';
import type { Database } from '../src/db/database.ts';
import { testApp, testConfig, testDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';

/**
 * Group commit of single stock adjustments (api/src/stock/coalescer.ts): concurrent adjustments
 * without an Idempotency-Key share statements, and each still gets the answer it would have got
 * alone. Batching is proven from the ledger itself: the rows one statement wrote share the
 * transaction id that inserted them (`xmin`).
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An error as PostgreSQL answers it (SQLSTATE `code`): the statement failed, nothing was applied. */
const serverError = (code: string, message: string) =>
  Object.assign(new pg.DatabaseError(message, 100, 'error'), { code });

describe('stock adjustments coalesced', () => {
  let database: Database;
  let app: App;
  let repository: StockRepository;
  let writer: string;
  let writerId: number;
  let categoryId: number;
  /** Lines the app logged at warn level and above (a batch falling back is a warning). */
  const warnings: { msg: string; size?: number }[] = [];

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  async function newProducts(stocks: number[]): Promise<number[]> {
    const rows = await insertProducts(
      database,
      stocks.map((stock) => productRow({ categoryId, stock })),
    );
    return rows.map((row) => row.id);
  }

  /** The stock, the ledger's sum, and how many statements (transactions) wrote the ledger. */
  async function ledgerOf(id: number) {
    const { rows } = await database.pool.query<{ stock: number; ledger: number; rows: number; statements: number }>(
      `SELECT p.stock,
              coalesce((SELECT sum(delta)::int FROM stock_movements WHERE product_id = p.id), 0) AS ledger,
              (SELECT count(*)::int FROM stock_movements WHERE product_id = p.id) AS rows,
              (SELECT count(DISTINCT xmin::text)::int FROM stock_movements WHERE product_id = p.id) AS statements
       FROM products p WHERE id = $1`,
      [id],
    );
    return rows[0]!;
  }

  /** Movements written to several products by one statement: proof that statements were shared. */
  async function sharedStatements(ids: number[]): Promise<number> {
    const { rows } = await database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT xmin::text FROM stock_movements WHERE product_id = ANY($1::bigint[])
         GROUP BY xmin::text HAVING count(*) > 1) shared`,
      [ids],
    );
    return rows[0]!.n;
  }

  /** Each product's ledger replays: every row's stock_after is the previous one's plus its delta. */
  async function expectLedgerReplays(ids: number[], opening: Map<number, number>) {
    const { rows } = await database.pool.query<{ product_id: string; delta: number; stock_after: number }>(
      `SELECT product_id, delta, stock_after FROM stock_movements WHERE product_id = ANY($1::bigint[])
       ORDER BY product_id, id`,
      [ids],
    );
    const level = new Map(opening);
    for (const row of rows) {
      const id = Number(row.product_id);
      const before = level.get(id)!;
      expect(row.stock_after, `product ${id}`).toBe(before + row.delta);
      level.set(id, row.stock_after);
    }
    for (const id of ids) expect((await ledgerOf(id)).stock, `product ${id}`).toBe(level.get(id));
  }

  async function post(base: string, id: number, delta: number, key = writer) {
    const response = await fetch(`${base}/v1/products/${id}/stock-adjustments`, {
      method: 'POST',
      headers: { ...auth(key), 'content-type': 'application/json' },
      body: JSON.stringify({ delta, reason: `r${delta}` }),
    });
    return { id, delta, status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  let base: string;

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database, {
      logger: {
        level: 'warn',
        stream: { write: (line: string) => void warnings.push(JSON.parse(line) as { msg: string }) },
      },
    });
    repository = new StockRepository(database);
    categoryId = (await insertTree(database)).running;
    const key = await app.keys.create('writer', ['stock:write']);
    writer = key.secret;
    writerId = key.id;
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  describe('configuration', () => {
    it('is on by default; STOCK_COALESCE=off turns it off; anything else stops the start', () => {
      expect(loadConfig({}).STOCK_COALESCE).toBe('on');
      expect(loadConfig({ STOCK_COALESCE: 'off' }).STOCK_COALESCE).toBe('off');
      expect(() => loadConfig({ STOCK_COALESCE: 'maybe' })).toThrow(ConfigError);
      expect(() => loadConfig({ STOCK_COALESCE: 'maybe' })).toThrow(/STOCK_COALESCE="maybe"/);
    });
  });

  describe('the batch statement (StockRepository.adjustMany)', () => {
    const actor = () => ({ apiKeyId: writerId, apiKeyName: 'writer', apiKeyPrefix: writer.slice(4, 12) });

    it('gives each adjustment its own outcome, and writes the ledger in request order', async () => {
      const [a, b, c, d] = await newProducts([10, 2, 999_999_990, 0]);
      const missing = 999_999_999;
      const items: Adjustment[] = [
        // Above 1,000,000,000: the limit refuses it.
        { productId: c!, delta: 15, reason: 'delivery', actor: actor() },
        { productId: a!, delta: -3, reason: 'sale', actor: actor() },
        { productId: missing, delta: 1, reason: 'ghost', actor: actor() },
        { productId: b!, delta: -5, reason: 'sale', actor: actor() },
        { productId: d!, delta: 4, reason: 'delivery', actor: actor() },
      ];
      const results = await repository.adjustMany(items);
      expect(results.map((r) => r.outcome)).toEqual(['over', 'done', 'not-found', 'insufficient', 'done']);
      expect(results[0]).toEqual({ outcome: 'over', stock: 999_999_990 });
      expect(results[3]).toEqual({ outcome: 'insufficient', stock: 2 });
      const sold = results[1] as Extract<AdjustResult, { outcome: 'done' }>;
      const delivered = results[4] as Extract<AdjustResult, { outcome: 'done' }>;
      expect(sold.change).toMatchObject({
        product_id: a,
        stock: 7,
        movement: {
          delta: -3,
          reason: 'sale',
          stock_after: 7,
          api_key: { id: writerId, name: 'writer' },
          idempotency_key: null,
        },
      });
      expect(delivered.change).toMatchObject({ product_id: d, stock: 4, movement: { delta: 4, stock_after: 4 } });
      // Request order in the ledger: the sale (second item) before the delivery (fifth).
      expect(sold.change.movement!.id).toBeLessThan(delivered.change.movement!.id);
      // The version the answer carries is the row's, bumped by the change.
      const { rows } = await database.pool.query<{ id: string; version: number }>(
        'SELECT id, version FROM products WHERE id = ANY($1::bigint[])',
        [[a, d]],
      );
      const version = new Map(rows.map((r) => [Number(r.id), r.version]));
      expect(sold.change.version).toBe(version.get(a!));
      expect(delivered.change.version).toBe(version.get(d!));
      expect(await ledgerOf(a!)).toMatchObject({ stock: 7, rows: 1 });
      expect(await ledgerOf(b!)).toMatchObject({ stock: 2, rows: 0 });
      expect(await ledgerOf(c!)).toMatchObject({ stock: 999_999_990, rows: 0 });
      // One statement wrote both rows.
      expect(await sharedStatements([a!, d!])).toBe(1);
    });

    it('answers what the single statement answers, field for field but the ids and times', async () => {
      const [a, b] = await newProducts([5, 5]);
      const alone = await repository.adjust({ productId: a!, delta: -2, reason: 'same', actor: actor() });
      const [together] = await repository.adjustMany([
        { productId: b!, delta: -2, reason: 'same', actor: actor() },
        { productId: a!, delta: 1, reason: 'other', actor: actor() },
      ]);
      const shape = (result: AdjustResult | undefined) => {
        const change = (result as Extract<AdjustResult, { outcome: 'done' }>).change;
        return {
          ...change,
          product_id: 0,
          movement: { ...change.movement!, id: 0, created_at: typeof change.movement!.created_at },
        };
      };
      expect(shape(together)).toEqual(shape(alone));
    });

    it('refuses a product twice in one statement (an UPDATE changes a row once)', async () => {
      const [a] = await newProducts([5]);
      const item = { productId: a!, delta: 1, reason: 'x', actor: actor() };
      await expect(repository.adjustMany([item, item])).rejects.toThrow(/once per statement/);
      expect(await ledgerOf(a!)).toMatchObject({ stock: 5, rows: 0 });
    });
  });

  describe('the coalescer', () => {
    const item = (productId: number, delta = 1): Adjustment => ({
      productId,
      delta,
      reason: 'x',
      actor: { apiKeyId: 1 },
    });
    const done = (productId: number): AdjustResult => ({
      outcome: 'done',
      change: { product_id: productId, stock: 1, version: 1, movement: null },
    });

    /** A coalescer over stand-ins that record what was sent, each statement answered when released. */
    function recorder(options: { maxInFlight?: number; maxBatch?: number; failMany?: (n: number) => unknown } = {}) {
      const sent: number[][] = [];
      const gates: (() => void)[] = [];
      const gate = () => new Promise<void>((resolve) => gates.push(resolve));
      let manyCalls = 0;
      const coalescer = new StockCoalescer({
        maxInFlight: options.maxInFlight ?? 1,
        maxBatch: options.maxBatch,
        runOne: async (one) => {
          sent.push([one.productId]);
          await gate();
          return done(one.productId);
        },
        runMany: async (items) => {
          sent.push(items.map((i) => i.productId));
          await gate();
          const failure = options.failMany?.(manyCalls++);
          if (failure) throw failure;
          return items.map((i) => done(i.productId));
        },
      });
      const release = async () => {
        while (gates.length > 0) {
          gates.shift()!();
          await sleep(1);
        }
      };
      return { coalescer, sent, release, gates };
    }

    it('sends an adjustment at once while a slot is free, and queues the others into one statement', async () => {
      const { coalescer, sent, release } = recorder({ maxInFlight: 1 });
      const answers = [1, 2, 3, 4].map((id) => coalescer.adjust(item(id)));
      // The first left at once, alone; the rest wait for the slot.
      expect(sent).toEqual([[1]]);
      expect(coalescer.queued).toBe(3);
      await release();
      await Promise.all(answers);
      expect(sent).toEqual([[1], [2, 3, 4]]);
      expect((await Promise.all(answers)).map((r) => r.outcome === 'done' && r.change.product_id)).toEqual([
        1, 2, 3, 4,
      ]);
    });

    it('puts a product once in a statement; its next adjustment waits for a later one, in order', async () => {
      const { coalescer, sent, release } = recorder({ maxInFlight: 1 });
      const answers = [9, 1, 2, 1, 3, 1, 2].map((id) => coalescer.adjust(item(id)));
      await release();
      await Promise.all(answers);
      expect(sent).toEqual([[9], [1, 2, 3], [1, 2], [1]]);
    });

    it('holds at most maxBatch in a statement and maxInFlight statements at once', async () => {
      const { coalescer, sent, release, gates } = recorder({ maxInFlight: 2, maxBatch: 3 });
      const answers = Array.from({ length: 11 }, (_, i) => coalescer.adjust(item(i + 1)));
      expect(gates).toHaveLength(2);
      await release();
      await Promise.all(answers);
      expect(sent).toEqual([[1], [2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]);
    });

    it('runs each adjustment of a refused statement alone, in order, each with its own answer', async () => {
      const ones: number[] = [];
      const coalescer = new StockCoalescer({
        maxInFlight: 1,
        runMany: async () => {
          throw serverError('40P01', 'deadlock detected');
        },
        runOne: async (one) => {
          ones.push(one.productId);
          if (one.productId === 3) return { outcome: 'not-found' };
          if (one.productId === 4) throw serverError('23514', 'check constraint');
          return done(one.productId);
        },
      });
      const answers = [1, 2, 3, 4, 5].map((id) =>
        coalescer.adjust(item(id)).then(
          (r) => r.outcome,
          (e: Error) => e.message,
        ),
      );
      expect(await Promise.all(answers)).toEqual(['done', 'done', 'not-found', 'check constraint', 'done']);
      // The first alone, then the four of the refused statement one by one, in their order.
      expect(ones).toEqual([1, 2, 3, 4, 5]);
      expect(coalescer.stats).toMatchObject({ fallbacks: 1, largest: 4 });
    });

    it('never runs again a statement whose outcome is unknown: the connection lost, or an error after the answer', async () => {
      for (const failure of [
        Object.assign(new Error('Connection terminated unexpectedly'), {}),
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
        serverError('57P01', 'terminating connection due to administrator command'),
        new TypeError("Cannot read properties of undefined (reading 'ord')"),
      ]) {
        const { coalescer, sent, release } = recorder({ maxInFlight: 1, failMany: () => failure });
        const answers = [1, 2, 3].map((id) =>
          coalescer.adjust(item(id)).then(
            (r) => r.outcome,
            (e: Error) => e,
          ),
        );
        await release();
        expect(await Promise.all(answers), failure.message).toEqual(['done', failure, failure]);
        // No adjustment of the failed statement was sent again.
        expect(sent, failure.message).toEqual([[1], [2, 3]]);
        expect(coalescer.stats.fallbacks).toBe(0);
      }
    });

    it('close() waits for every queued adjustment to be answered', async () => {
      const { coalescer, release } = recorder({ maxInFlight: 1, maxBatch: 2 });
      const settled: number[] = [];
      const answers = [1, 2, 3, 4, 5].map((id) => coalescer.adjust(item(id)).then(() => settled.push(id)));
      let closed = false;
      const closing = coalescer.close().then(() => (closed = true));
      await sleep(5);
      expect(closed).toBe(false);
      await release();
      await closing;
      expect(settled.sort()).toEqual([1, 2, 3, 4, 5]);
      await Promise.all(answers);
      await coalescer.close();
    });
  });

  describe('through the API (real HTTP)', () => {
    it('sells exactly the stock to 1,000 concurrent single-unit buyers of one product', async () => {
      const [id] = await newProducts([0]);
      await post(base, id!, 100);
      const responses = await Promise.all(Array.from({ length: 1_000 }, () => post(base, id!, -1)));
      const count = (status: number) => responses.filter((r) => r.status === status).length;
      expect({ sold: count(201), refused: count(409), other: 1_000 - count(201) - count(409) }).toEqual({
        sold: 100,
        refused: 900,
        other: 0,
      });
      expect(await ledgerOf(id!)).toMatchObject({ stock: 0, ledger: 0, rows: 101 });
      const { rows } = await database.pool.query<{ sum: number }>(
        `SELECT sum(delta)::int AS sum FROM stock_movements WHERE product_id = $1 AND delta < 0`,
        [id],
      );
      expect(rows[0]!.sum).toBe(-100);
      // Each 201 answered a stock left that no other did: 99 down to 0.
      const left = responses.filter((r) => r.status === 201).map((r) => r.body.stock as number);
      expect(left.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      for (const refused of responses.filter((r) => r.status === 409)) {
        expect(refused.body).toMatchObject({ type: expect.stringMatching(/insufficient-stock$/), current_stock: 0 });
      }
    });

    it('sells exactly the stock of ten products to 1,000 concurrent buyers, sharing statements', async () => {
      const ids = await newProducts(Array.from({ length: 10 }, () => 10));
      const responses = await Promise.all(Array.from({ length: 1_000 }, (_, i) => post(base, ids[i % 10]!, -1)));
      expect(responses.filter((r) => r.status === 201)).toHaveLength(100);
      expect(responses.filter((r) => r.status === 409)).toHaveLength(900);
      for (const id of ids) expect(await ledgerOf(id)).toMatchObject({ stock: 0, ledger: -10, rows: 10 });
      expect(await sharedStatements(ids)).toBeGreaterThan(0);
    });

    it('gives exact stocks and ledgers over 50 products under mixed adjustments, refusals included', async () => {
      const opening = Array.from({ length: 50 }, (_, i) => (i % 5) * 3);
      const ids = await newProducts(opening);
      // Deterministic "random" deltas, many of which cannot apply (more taken than is there).
      let seed = 42;
      const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
      const requests = Array.from({ length: 1_500 }, () => {
        const id = ids[next() % ids.length]!;
        const size = 1 + (next() % 4);
        return { id, delta: next() % 3 === 0 ? size : -size };
      });
      const responses = await Promise.all(requests.map((r) => post(base, r.id, r.delta)));
      expect(responses.filter((r) => r.status !== 201 && r.status !== 409)).toEqual([]);
      const refused = responses.filter((r) => r.status === 409);
      expect(refused.length).toBeGreaterThan(100);
      // (The stock a refusal reports is read after it, alone, by the single statement's path: another
      // change may come between, so only its range is checked here; the batch's, read under the
      // row lock, is checked exactly above.)
      for (const r of refused) {
        expect(r.body).toMatchObject({ type: expect.stringMatching(/insufficient-stock$/) });
        expect(r.body.current_stock as number).toBeGreaterThanOrEqual(0);
      }
      for (const [index, id] of ids.entries()) {
        const applied = responses.filter((r) => r.id === id && r.status === 201);
        const expected = opening[index]! + applied.reduce((sum, r) => sum + r.delta, 0);
        expect(await ledgerOf(id), `product ${id}`).toMatchObject({
          stock: expected,
          ledger: expected - opening[index]!,
          rows: applied.length,
        });
        // Each answer's stock and movement are those of its own ledger row.
        for (const r of applied) {
          const movement = r.body.movement as { delta: number; stock_after: number; reason: string };
          expect(movement).toMatchObject({ delta: r.delta, stock_after: r.body.stock, reason: `r${r.delta}` });
        }
      }
      await expectLedgerReplays(ids, new Map(ids.map((id, i) => [id, opening[i]!])));
      expect(await sharedStatements(ids)).toBeGreaterThan(0);
    });

    it('answers 404 to the unknown product of a shared statement, and only to it', async () => {
      const ids = await newProducts(Array.from({ length: 20 }, () => 100));
      const missing = 888_888_888;
      for (let round = 0; round < 5; round += 1) {
        const responses = await Promise.all(
          [...ids, missing, ...ids].map((id) => post(base, id, id === missing ? 1 : -1)),
        );
        expect(responses.map((r) => (r.id === missing ? r.status === 404 : r.status === 201))).not.toContain(false);
        expect(responses.find((r) => r.id === missing)!.body).toMatchObject({ status: 404, title: 'Not found' });
      }
      for (const id of ids) expect(await ledgerOf(id)).toMatchObject({ stock: 90, rows: 10 });
      expect(await sharedStatements(ids)).toBeGreaterThan(0);
    });

    it('falls back to one statement each when a shared statement fails, every request still answered truly', async () => {
      const ids = await newProducts(Array.from({ length: 30 }, () => 50));
      const poisoned = ids[7]!;
      // The batch statement fails whenever it holds this product (as a deadlock would); the
      // single statement does not.
      await database.pool.query(`
        CREATE FUNCTION test_poison_batch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.id = ${poisoned} AND current_query() LIKE '%WITH ORDINALITY%' THEN
            RAISE EXCEPTION 'poisoned batch' USING ERRCODE = '40P01';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER test_poison_batch BEFORE UPDATE ON products FOR EACH ROW EXECUTE FUNCTION test_poison_batch();`);
      try {
        const before = warnings.filter((w) => w.msg.includes('batch failed')).length;
        for (let round = 0; round < 5; round += 1) {
          const responses = await Promise.all([...ids, ...ids].map((id) => post(base, id, -1)));
          expect(responses.filter((r) => r.status !== 201)).toEqual([]);
        }
        for (const id of ids) expect(await ledgerOf(id)).toMatchObject({ stock: 40, ledger: -10, rows: 10 });
        // The poisoned product's statements failed and fell back (and were logged as such).
        expect(warnings.filter((w) => w.msg.includes('batch failed')).length).toBeGreaterThan(before);
      } finally {
        await database.pool.query('DROP TRIGGER test_poison_batch ON products; DROP FUNCTION test_poison_batch()');
      }
    });

    it('races atomic batches on the same products with no deadlock, no error and a consistent ledger', async () => {
      const ids = await newProducts(Array.from({ length: 12 }, () => 1_000));
      const before = warnings.length;
      let seed = 7;
      const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
      const singles = Array.from({ length: 600 }, () => {
        const id = ids[next() % ids.length]!;
        return { id, delta: next() % 2 === 0 ? 1 : -1 };
      });
      const batches = Array.from({ length: 30 }, () =>
        Array.from({ length: 8 }, () => ({
          product_id: ids[next() % ids.length]!,
          delta: next() % 2 === 0 ? 2 : -2,
          reason: 'atomic',
        })),
      );
      const [singleAnswers, batchAnswers] = await Promise.all([
        Promise.all(singles.map((s) => post(base, s.id, s.delta))),
        Promise.all(
          batches.map(async (items) => {
            const response = await fetch(`${base}/v1/stock-adjustments`, {
              method: 'POST',
              headers: { ...auth(writer), 'content-type': 'application/json' },
              body: JSON.stringify({ atomic: true, items }),
            });
            return { items, status: response.status };
          }),
        ),
      ]);
      expect(singleAnswers.filter((r) => r.status !== 201)).toEqual([]);
      expect(batchAnswers.filter((r) => r.status !== 200)).toEqual([]);
      const expected = new Map(ids.map((id) => [id, 1_000]));
      for (const s of singles) expected.set(s.id, expected.get(s.id)! + s.delta);
      for (const b of batches) for (const i of b) expected.set(i.product_id, expected.get(i.product_id)! + i.delta);
      for (const id of ids) {
        expect(await ledgerOf(id), `product ${id}`).toMatchObject({
          stock: expected.get(id),
          ledger: expected.get(id)! - 1_000,
        });
      }
      await expectLedgerReplays(ids, new Map(ids.map((id) => [id, 1_000])));
      // Not even a fallback: the locks are taken in the same order on both paths.
      expect(warnings.slice(before)).toEqual([]);
      expect(await sharedStatements(ids)).toBeGreaterThan(0);
    });

    it('answers 503 (database unavailable) to the adjustments of a statement whose connection is cut, never retried', async () => {
      const ids = await newProducts(Array.from({ length: 40 }, () => 1_000));
      const before = warnings.length;
      // Cuts the API's connections to this database (as a failover or a crash would) until the load ends.
      const killer = new pg.Client({ connectionString: (database as Database & { url: string }).url });
      await killer.connect();
      let loading = true;
      let cuts = 0;
      const cutting = (async () => {
        while (loading) {
          const { rowCount } = await killer.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'catalogue-api'
                AND state = 'active'`,
          );
          cuts += rowCount ?? 0;
          await sleep(3);
        }
      })();
      let responses: Awaited<ReturnType<typeof post>>[] = [];
      try {
        for (let round = 0; round < 10 && cuts < 3; round += 1) {
          responses = responses.concat(
            await Promise.all(Array.from({ length: 400 }, (_, i) => post(base, ids[i % ids.length]!, -1))),
          );
        }
      } finally {
        loading = false;
        await cutting;
        await killer.end();
      }
      expect(cuts).toBeGreaterThan(0);
      const unavailable = responses.filter((r) => r.status === 503);
      expect(responses.filter((r) => r.status !== 201 && r.status !== 503)).toEqual([]);
      expect(unavailable.length).toBeGreaterThan(0);
      for (const r of unavailable) {
        expect(r.body).toMatchObject({ type: 'https://catalogue.dev/problems/database-unavailable' });
      }
      // Nothing was applied twice: the ledger holds each 201 and at most the 503s besides, and it replays.
      const applied = responses.filter((r) => r.status === 201);
      const { rows } = await database.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM stock_movements WHERE product_id = ANY($1::bigint[])',
        [ids],
      );
      expect(rows[0]!.n).toBeGreaterThanOrEqual(applied.length);
      expect(rows[0]!.n).toBeLessThanOrEqual(applied.length + unavailable.length);
      await expectLedgerReplays(ids, new Map(ids.map((id) => [id, 1_000])));
      for (const id of ids) {
        const { stock, ledger } = await ledgerOf(id);
        expect(stock).toBe(1_000 + ledger);
      }
      // A lost connection is no reason to run a statement again one adjustment at a time.
      expect(warnings.slice(before).filter((w) => w.msg.includes('batch failed'))).toEqual([]);
    });

    it('answers a replay with an Idempotency-Key as before, beside coalesced adjustments', async () => {
      const ids = await newProducts(Array.from({ length: 10 }, () => 5));
      const keyed = Array.from({ length: 20 }, () =>
        fetch(`${base}/v1/products/${ids[0]}/stock-adjustments`, {
          method: 'POST',
          headers: { ...auth(writer), 'content-type': 'application/json', 'idempotency-key': `once-${ids[0]}` },
          body: JSON.stringify({ delta: -2, reason: 'keyed' }),
        }).then((r) => ({ status: r.status, replayed: r.headers.get('idempotent-replayed') === 'true' })),
      );
      const plain = ids.slice(1).map((id) => post(base, id, -1));
      const answers = await Promise.all(keyed);
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 201));
      expect(answers.filter((a) => a.replayed)).toHaveLength(19);
      expect((await Promise.all(plain)).map((r) => r.status)).toEqual(Array.from({ length: 9 }, () => 201));
      expect(await ledgerOf(ids[0]!)).toMatchObject({ stock: 3, rows: 1 });
    });
    it('never shares a statement with an adjustment sent with an Idempotency-Key', async () => {
      const ids = await newProducts(Array.from({ length: 20 }, () => 50));
      const keyed = ids.map((id) =>
        fetch(`${base}/v1/products/${id}/stock-adjustments`, {
          method: 'POST',
          headers: { ...auth(writer), 'content-type': 'application/json', 'idempotency-key': `alone-${id}` },
          body: JSON.stringify({ delta: -1, reason: 'keyed' }),
        }).then((r) => r.status),
      );
      const plain = Array.from({ length: 400 }, (_, i) => post(base, ids[i % ids.length]!, -1).then((r) => r.status));
      const statuses = await Promise.all([...keyed, ...plain]);
      expect(statuses.filter((status) => status !== 201)).toEqual([]);
      for (const id of ids) expect(await ledgerOf(id)).toMatchObject({ stock: 29, ledger: -21, rows: 21 });
      // The plain adjustments shared statements; no keyed one was written by a statement that wrote
      // another row: each ran in the transaction that stored its answer.
      expect(await sharedStatements(ids)).toBeGreaterThan(0);
      const { rows } = await database.pool.query<{ keyed: number; shared: number }>(
        `SELECT count(*)::int AS keyed,
                count(*) FILTER (WHERE EXISTS (
                  SELECT 1 FROM stock_movements o WHERE o.id <> m.id AND o.xmin::text = m.xmin::text))::int AS shared
         FROM stock_movements m WHERE m.product_id = ANY($1::bigint[]) AND m.idempotency_key IS NOT NULL`,
        [ids],
      );
      expect(rows[0]).toEqual({ keyed: 20, shared: 0 });
    });
  });

  describe('switched off, and at shutdown', () => {
    it('with STOCK_COALESCE=off, every adjustment is a statement of its own', async () => {
      const off = await testApp(database, { config: { STOCK_COALESCE: 'off' } });
      const ids = await newProducts(Array.from({ length: 10 }, () => 100));
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          off.inject({
            method: 'POST',
            url: `/v1/products/${ids[i % 10]}/stock-adjustments`,
            headers: auth(writer),
            payload: { delta: -1, reason: 'off' },
          }),
        ),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(Array.from({ length: 200 }, () => 201));
      for (const id of ids) expect(await ledgerOf(id)).toMatchObject({ stock: 80, rows: 20, statements: 20 });
      expect(await sharedStatements(ids)).toBe(0);
    });

    it('answers every adjustment still queued when the app closes', async () => {
      const closing = await buildApp({
        config: testConfig(),
        database,
        logger: false,
      });
      await closing.ready();
      const ids = await newProducts(Array.from({ length: 25 }, () => 100));
      let settled = 0;
      const answers = Array.from({ length: 300 }, (_, i) =>
        closing
          .inject({
            method: 'POST',
            url: `/v1/products/${ids[i % 25]}/stock-adjustments`,
            headers: auth(writer),
            payload: { delta: -1, reason: 'closing' },
          })
          .finally(() => (settled += 1)),
      );
      // Once the first answer is out (the others queued behind it), close.
      while (settled === 0) await sleep(1);
      const pendingAtClose = 300 - settled;
      await closing.close();
      expect(pendingAtClose).toBeGreaterThan(100);
      expect(settled).toBe(300);
      const statuses = (await Promise.all(answers)).map((a) => a.statusCode);
      expect(statuses.filter((s) => s !== 201)).toEqual([]);
      for (const id of ids) expect(await ledgerOf(id)).toMatchObject({ stock: 88, rows: 12 });
    });
  });
});
