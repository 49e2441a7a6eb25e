import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/db/database.ts';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { EMBEDDED_DATABASE } from '../src/runtime.ts';
import { searchSync } from '../src/search/meili/setup.ts';
import { startMeiliStandIn, type MeiliStandIn } from '@catalogue/testing/meili-standin';
import { alive, freePort, startNode, waitFor, type Running } from '@catalogue/testing/process';

/**
 * SIGTERM in the middle of sustained load, on the real server process as `npm start` runs it: the
 * embedded PostgreSQL, and the in-process indexer feeding the Meilisearch STAND-IN
 * (testing/src/meili-standin.ts, not a real Meilisearch) with a batch in hand. What was accepted
 * is answered in full, what comes after is refused cleanly, the batch goes back to the outbox, the
 * embedded PostgreSQL stops, and the process exits with 0 within 10 s. (server.process.test.ts
 * covers the plain case: a burst of requests and SIGTERM, no indexer.)
 */

/** The acceptance's bound, and server.ts's own guard (past it, the process exits with 1). */
const EXIT_BOUND_MS = 10_000;
const LOAD_CLIENTS = 8;
/** Held so long that only the shutdown can end the indexer's wait for its task. */
const TASK_TIMEOUT_MS = 60_000;

interface Outcome {
  kind: string;
  start: number;
  end: number;
  status: number;
  connection?: string;
  contentType?: string;
  /** The socket error when no full answer came (ECONNREFUSED, ECONNRESET, ...). */
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

describe('shutdown under load (the server process, embedded PostgreSQL, indexer)', () => {
  let dataDir: string;
  let standIn: MeiliStandIn;
  const started: Running[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'catalogue-shutdown-'));
    standIn = await startMeiliStandIn();
  });
  afterAll(async () => {
    for (const running of started) if (running.child.exitCode === null) running.child.kill('SIGKILL');
    await standIn?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function startServer() {
    const port = await freePort();
    const running = startNode(['--import', 'tsx', 'api/src/server.ts'], {
      DATA_DIR: dataDir,
      API_PORT: String(port),
      SEED_PRODUCTS: '300',
      MEILISEARCH_URL: standIn.url,
      MEILISEARCH_KEY: standIn.key,
      MEILISEARCH_INDEX: 'products',
      MEILISEARCH_TASK_TIMEOUT_MS: String(TASK_TIMEOUT_MS),
      SEARCH_INDEXER: 'in-process',
      RATE_LIMIT_READS_PER_MINUTE: '0',
      RATE_LIMIT_WRITES_PER_MINUTE: '0',
    });
    started.push(running);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/readyz`, 90_000, running);
    return { running, base };
  }

  /** The running server's own PostgreSQL (a command beside the API uses it the same way). */
  async function serverDatabase(): Promise<Database> {
    const server = await startEmbeddedPostgres({ dataDir });
    return createDatabase(server.urlFor(EMBEDDED_DATABASE), { poolSize: 2, applicationName: 'shutdown-test' });
  }

  async function postmasterPid(): Promise<number> {
    return Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  }

  const outboxIds = async (database: Database) =>
    (await database.pool.query<{ product_id: string }>('SELECT product_id FROM search_outbox')).rows.map((r) =>
      Number(r.product_id),
    );

  it('answers what it accepted, refuses the rest cleanly, gives the batch back, and exits 0 within 10 s', async () => {
    const { running, base } = await startServer();
    const key = /An admin API key was created[^\n]*\n\s*\n\s*(cat_\S+)/.exec(running.output())?.[1];
    expect(key).toMatch(/^cat_/);
    const database = await serverDatabase();
    const searchEngine = async () =>
      ((await (await fetch(`${base}/v1/search?q=a`)).json()) as { engine: string }).engine;
    await waitUntil('the index is built and Meilisearch answers', async () => (await searchEngine()) === 'meilisearch');
    const { rows } = await database.pool.query<{ id: string }>(
      `SELECT id FROM products WHERE status = 'active' ORDER BY id LIMIT 100`,
    );
    const ids = rows.map((r) => Number(r.id));

    // Keep-alive connections, as a load balancer or a browser keeps them.
    const agent = new Agent({ keepAlive: true, maxSockets: LOAD_CLIENTS });
    const send = (kind: string, method: string, path: string, body?: object, viaAgent: Agent | false = agent) =>
      new Promise<Outcome>((resolve) => {
        const start = performance.now();
        const payload = body ? JSON.stringify(body) : undefined;
        const req = httpRequest(
          `${base}${path}`,
          {
            method,
            agent: viaAgent,
            timeout: 15_000,
            headers: {
              ...(payload ? { 'content-type': 'application/json', authorization: `Bearer ${key}` } : {}),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({
                kind,
                start,
                end: performance.now(),
                status: res.statusCode ?? 0,
                connection: res.headers.connection,
                contentType: res.headers['content-type'],
              }),
            );
            res.on('error', (error: NodeJS.ErrnoException) =>
              resolve({ kind, start, end: performance.now(), status: 0, error: error.code ?? error.message }),
            );
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ kind, start, end: performance.now(), status: 0, error: error.code ?? error.message }),
        );
        req.end(payload);
      });

    const outcomes: Outcome[] = [];
    let stopping = false;
    let renamed = 0;
    const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
    const clients = Array.from({ length: LOAD_CLIENTS }, async (_, n) => {
      while (!stopping) {
        const id = pick();
        const outcome =
          n % 4 === 0
            ? await send('page', 'GET', `/v1/products?limit=${1 + Math.floor(Math.random() * 50)}`)
            : n % 4 === 1
              ? await send('search', 'GET', `/v1/search?q=${['shirt', 'lamp', 'mug', 'boot'][n % 3]}`)
              : n % 4 === 2
                ? await send('rename', 'PATCH', `/v1/products/${id}`, { name: `Renamed ${(renamed += 1)}` })
                : await send('stock', 'POST', `/v1/products/${id}/stock-adjustments`, { delta: 1, reason: 'load' });
        outcomes.push(outcome);
        // After a refusal the client stops (a load balancer would send it elsewhere).
        if (outcome.status === 0 || outcome.status === 503) break;
      }
    });

    await sleep(1_500);
    // The indexer's next batch waits for its task: the shutdown finds it with a batch in hand.
    standIn.holdTasks();
    await waitUntil('the indexer waits for a task', async () =>
      standIn.tasks().some((t) => t.status === 'enqueued' && t.indexUid === 'products'),
    );
    await sleep(500);
    const pending = new Set(await outboxIds(database));
    await database.close();
    const pid = await postmasterPid();
    expect(alive(pid)).toBe(true);

    const signalled = performance.now();
    running.child.kill('SIGTERM');
    let exited = false;
    // New clients meanwhile, each on a new connection, until the process is gone.
    const newcomers = (async () => {
      while (!exited) {
        outcomes.push(await send('new', 'GET', '/v1/products?limit=5', undefined, false));
        await sleep(20);
      }
    })();
    const code = await running.exited;
    const exitMs = performance.now() - signalled;
    exited = true;
    stopping = true;
    await Promise.all([...clients, newcomers]);
    agent.destroy();

    const before = outcomes.filter((o) => o.start < signalled);
    const after = outcomes.filter((o) => o.start >= signalled);
    const label = (o: Outcome) =>
      o.status === 0 ? o.error! : `${o.status}${o.connection === 'close' ? ' connection: close' : ''}`;
    const tally = (list: Outcome[]) => {
      const found: Record<string, number> = {};
      for (const o of list) found[label(o)] = (found[label(o)] ?? 0) + 1;
      return JSON.stringify(found);
    };
    const inFlight = before.filter((o) => o.end >= signalled);
    console.info(
      [
        'shutdown figures:',
        `  exit code ${code} ${Math.round(exitMs)} ms after SIGTERM`,
        `  requests: ${outcomes.length}, sent before SIGTERM ${before.length} (${tally(before)}), of which in flight at SIGTERM ${inFlight.length} (${tally(inFlight)})`,
        `  sent after SIGTERM: ${after.length} (${tally(after)})`,
        `  outbox rows at SIGTERM: ${pending.size}`,
      ].join('\n'),
    );

    expect(code, running.output().slice(-2_000)).toBe(0);
    expect(exitMs).toBeLessThan(EXIT_BOUND_MS);
    expect(running.output()).toMatch(/"msg":"stopped"/);
    // Every request sent before the signal got a full answer: no reset, no hang, no server error.
    expect(before.filter((o) => o.status === 0 || o.status >= 500)).toEqual([]);
    expect(inFlight.filter((o) => o.status >= 200 && o.status < 300).length).toBeGreaterThan(0);
    // After it: a request on a connection the server still had open is answered (closing that
    // connection once the shutdown has begun; one sent before the process saw the signal is simply
    // served); a new connection is refused. Never a reset on a connection the server accepted,
    // never a server error. A new connection may be reset rather than refused: one the kernel had
    // completed in the listener's backlog, never accepted, is reset when the listener closes (a
    // fresh-clone run saw one, 10 ms after it connected); its request was never read.
    const refused = (o: Outcome) => o.error === 'ECONNREFUSED' || (o.kind === 'new' && o.error === 'ECONNRESET');
    const clean = (o: Outcome) => refused(o) || (o.status > 0 && o.status < 500);
    expect(after.filter((o) => !clean(o))).toEqual([]);
    expect(after.filter((o) => o.error === 'ECONNREFUSED').length).toBeGreaterThan(0);
    // The embedded PostgreSQL stopped with the API.
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // The batch in hand went back to the outbox: every change waiting at SIGTERM is still there
    // (read with the API stopped, on a PostgreSQL of the test's own over the same folder).
    const inspector = await startEmbeddedPostgres({ dataDir });
    const inspected = createDatabase(inspector.urlFor(EMBEDDED_DATABASE), { poolSize: 1 });
    const left = new Set(await outboxIds(inspected));
    await inspected.close();
    await inspector.stop();
    expect(
      [...pending].filter((id) => !left.has(id)),
      'changes lost from the outbox',
    ).toEqual([]);
    console.info(`  outbox rows after exit: ${left.size}`);

    // Started again, the indexer drains them, and the index equals the database.
    standIn.releaseTasks();
    const restarted = await startServer();
    const reopened = await serverDatabase();
    try {
      await waitUntil('the outbox is drained', async () => (await outboxIds(reopened)).length === 0);
      const sync = searchSync(
        reopened.pool,
        {
          MEILISEARCH_URL: standIn.url,
          MEILISEARCH_KEY: standIn.key,
          MEILISEARCH_INDEX: 'products',
          MEILISEARCH_TIMEOUT_MS: 1_000,
          MEILISEARCH_TASK_TIMEOUT_MS: 5_000,
        },
        { info: () => undefined, warn: () => undefined },
      );
      expect(await sync.reconcile({ repair: false })).toMatchObject({ missing: 0, orphans: 0, stale: 0 });
    } finally {
      await reopened.close();
      restarted.running.child.kill('SIGTERM');
    }
    expect(await restarted.running.exited).toBe(0);
    expect(standIn.violations).toEqual([]);
  });
});
