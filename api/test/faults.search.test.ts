import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Indexer } from '../src/search/meili/indexer.ts';
import { searchSync, type MeiliConfig } from '../src/search/meili/setup.ts';
import type { SearchSync } from '../src/search/meili/sync.ts';
import { testApp, testDatabase, type TestDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';
import { startMeiliStandIn, type MeiliStandIn } from '@catalogue/testing/meili-standin';

/**
 * Search while Meilisearch misbehaves, against the in-process STAND-IN (testing/src/meili-standin.ts,
 * not a real Meilisearch: none runs on the build machines), with the app's own in-process indexer
 * as production runs it. For each fault: writes still succeed, search answers with what the
 * engine can honestly give, the changes wait in the outbox while the indexer backs off; once the
 * fault ends, the outbox drains and reconcile finds the index equal to the database.
 * (search.meili.test.ts covers single failed or timed-out tasks and a short outage with a
 * fast-retrying indexer of its own; this file holds each fault for seconds under the app's.)
 */

const silent = { info: () => undefined, warn: () => undefined };

/** A search gives up on Meilisearch after this long, and PostgreSQL answers. */
const SEARCH_TIMEOUT_MS = 300;
/** The indexer's uploads and task waits give up after this long (the smallest the config allows is 100). */
const TASK_TIMEOUT_MS = 1_000;
/** "Slow": every answer later than both timeouts. */
const SLOW_MS = 1_500;
/** How long each fault is held while writes and searches go on. */
const FAULT_MS = 3_000;
/** An index further behind than this answers no search (MEILISEARCH_MAX_LAG_MS): PostgreSQL does. */
const MAX_LAG_MS = 1_000;
/**
 * The indexer retries after 250 ms, doubling: in FAULT_MS, four or five attempts. Without backoff
 * it would retry as fast as the failures come (refused connections: hundreds a second).
 */
const MAX_ATTEMPTS_DURING_FAULT = 10;

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Found {
  engine: string;
  fallback: string | null;
  freshness: { lag_ms: number };
  hits: { id: number; name: string }[];
}

describe('search faults: Meilisearch (the stand-in) down, slow, failing', () => {
  let standIn: MeiliStandIn;
  let database: TestDatabase;
  let app: App;
  let sync: SearchSync;
  let indexer: Indexer;
  let secret: string;
  let productIds: number[];
  let config: MeiliConfig;

  const outboxLength = async () =>
    Number((await database.pool.query<{ n: string }>('SELECT count(*) AS n FROM search_outbox')).rows[0]!.n);

  const search = async (query: string) => {
    const started = performance.now();
    const response = await app.inject({ url: `/v1/search?${query}` });
    expect(response.statusCode, response.body).toBe(200);
    return { ...response.json<Found>(), ms: performance.now() - started };
  };

  const write = async (method: 'PATCH' | 'DELETE', id: number, body?: object) => {
    const response = await app.inject({
      method,
      url: `/v1/products/${id}`,
      headers: { authorization: `Bearer ${secret}` },
      ...(body ? { payload: body } : {}),
    });
    expect(response.statusCode, response.body).toBe(200);
  };

  /** The outbox drained by the app's indexer, and no drift between index and database. */
  async function inStep() {
    await waitUntil('the index is built', () => sync.isReady());
    await waitUntil('the outbox is drained', async () => (await outboxLength()) === 0);
    expect(await sync.reconcile({ repair: false })).toMatchObject({ missing: 0, orphans: 0, stale: 0 });
  }

  beforeAll(async () => {
    standIn = await startMeiliStandIn();
    database = await testDatabase();
    const tree = await insertTree(database);
    const rows = await insertProducts(
      database,
      Array.from({ length: 120 }, (_, i) =>
        productRow({ categoryId: i % 2 ? tree.running : tree.kitchen, name: `Copper kettle ${i}` }),
      ),
    );
    productIds = rows.map((r) => r.id);
    config = {
      MEILISEARCH_URL: standIn.url,
      MEILISEARCH_KEY: standIn.key,
      MEILISEARCH_INDEX: `products_faults_${randomBytes(4).toString('hex')}`,
      MEILISEARCH_TIMEOUT_MS: SEARCH_TIMEOUT_MS,
      MEILISEARCH_TASK_TIMEOUT_MS: TASK_TIMEOUT_MS,
    };
    app = await testApp(database, {
      config: { ...config, SEARCH_INDEXER: 'in-process', MEILISEARCH_MAX_LAG_MS: MAX_LAG_MS },
    });
    indexer = app.meili!.indexer!;
    sync = searchSync(database.pool, config, silent);
    secret = (await app.keys.create('search faults', ['catalog:write'])).secret;
  });

  afterAll(async () => {
    await standIn?.stop();
  });

  const faults: {
    name: string;
    word: string;
    inject: () => unknown;
    /** What a search during the fault answers with. */
    expected: { engine: 'postgres' | 'meilisearch'; fallback: string | null };
    /** What a search answers once the index is more than MAX_LAG_MS behind, when that differs. */
    behind?: { engine: 'postgres'; fallback: string };
  }[] = [
    {
      name: 'down (connections refused)',
      word: 'quokka',
      inject: () => standIn.down(),
      expected: { engine: 'postgres', fallback: 'meilisearch_unavailable' },
    },
    {
      name: `slow (every answer after ${SLOW_MS} ms: past the search and task timeouts)`,
      word: 'wombat',
      inject: () => standIn.delay(SLOW_MS),
      expected: { engine: 'postgres', fallback: 'meilisearch_unavailable' },
    },
    {
      name: 'failing answers (503 to every request)',
      word: 'narwhal',
      inject: () => standIn.failRequests(1_000_000, 503),
      expected: { engine: 'postgres', fallback: 'meilisearch_unavailable' },
    },
    {
      // Meilisearch answers searches but fails every write: its index is what it was, and says so
      // in freshness.lag_ms, until it is more than MAX_LAG_MS behind: then PostgreSQL answers.
      name: 'failing tasks (every task ends `failed`)',
      word: 'axolotl',
      inject: () => standIn.failAllTasks(),
      expected: { engine: 'meilisearch', fallback: null },
      behind: { engine: 'postgres', fallback: 'index_behind' },
    },
  ];

  for (const [n, fault] of faults.entries()) {
    it(`${fault.name}: writes succeed, search answers, the outbox keeps the changes, then the index converges`, async () => {
      await inStep();
      const renamed = productIds.slice(n * 10, n * 10 + 5);
      const archived = productIds[n * 10 + 5]!;
      const failuresBefore = indexer.stats.failures;
      const faultStarted = performance.now();
      await fault.inject();
      try {
        for (const id of renamed) await write('PATCH', id, { name: `${fault.word} kettle ${id}` });
        await write('DELETE', archived);
        expect(await outboxLength(), 'changes waiting in the outbox').toBeGreaterThanOrEqual(renamed.length + 1);

        const found = await search(`q=${fault.word}&limit=10`);
        expect({ engine: found.engine, fallback: found.fallback }).toEqual(fault.expected);
        if (fault.expected.engine === 'postgres') {
          // PostgreSQL searches committed data: every change is found at once.
          expect(found.hits.map((h) => h.id).sort((a, b) => a - b)).toEqual(renamed);
          // The failed attempt waited at most the search timeout; the next searches do not try.
          const again = await search(`q=${fault.word}&limit=10`);
          expect(again.engine).toBe('postgres');
          console.info(
            `faults.search ${fault.name}: first search ${Math.round(found.ms)} ms, next ${Math.round(again.ms)} ms`,
          );
        } else {
          // The index has none of the changes, and the answer says how far behind it is.
          expect(found.hits).toEqual([]);
          expect(found.freshness.lag_ms).toBeGreaterThan(0);
        }

        // The indexer fails, keeps the rows, and backs off rather than hammering.
        await waitUntil('the indexer has failed', async () => indexer.stats.failing > 0);
        const remaining = FAULT_MS - (performance.now() - faultStarted);
        if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
        const attempts = indexer.stats.failures - failuresBefore;
        expect(attempts, 'indexer attempts during the fault').toBeLessThanOrEqual(MAX_ATTEMPTS_DURING_FAULT);
        expect(await outboxLength()).toBeGreaterThanOrEqual(renamed.length + 1);
        const late = await search(`q=${fault.word}&limit=10`);
        if (fault.behind) {
          // FAULT_MS past the first change, the index is too far behind: PostgreSQL finds every change.
          expect({ engine: late.engine, fallback: late.fallback }).toEqual(fault.behind);
          expect(late.hits.map((h) => h.id).sort((a, b) => a - b)).toEqual(renamed);
        }
        console.info(
          `faults.search ${fault.name}: ${attempts} indexer attempts in ${FAULT_MS} ms, then ${late.engine}`,
        );
      } finally {
        await standIn.clearFaults();
      }

      const recovering = performance.now();
      await inStep();
      const convergedMs = performance.now() - recovering;
      // PostgreSQL answers for a few seconds after a failure, then Meilisearch again, with every change.
      await waitUntil('Meilisearch answers again', async () => (await search('q=kettle')).engine === 'meilisearch');
      const after = await search(`q=${fault.word}&limit=10`);
      expect(after.engine).toBe('meilisearch');
      expect(after.hits.map((h) => h.id).sort((a, b) => a - b)).toEqual(renamed);
      expect(standIn.documents(config.MEILISEARCH_INDEX).has(String(archived))).toBe(false);
      console.info(`faults.search ${fault.name}: outbox drained and no drift ${Math.round(convergedMs)} ms after`);
    });
  }

  it('leaves the stand-in with no contract violation', () => {
    expect(standIn.violations).toEqual([]);
  });
});
