import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import { createDatabase, type Database } from '../src/db/database.ts';
import { HTTP_DURATION_BUCKETS, RequestMetrics, UNMATCHED_ROUTE } from '../src/metrics/requests.ts';
import { testApp, testConfig, testDatabase, type TestDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';
import { MeiliStandIn } from '@catalogue/testing/meili-standin';
import { startNode, type Running } from '@catalogue/testing/process';
import { ExpositionError, parseExposition, type Exposition } from './support/prometheus.ts';

const TOKEN = 'metrics-token-for-the-tests-0123';
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

async function scrape(app: App): Promise<Exposition> {
  const response = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.statusCode, response.body).toBe(200);
  expect(response.headers['content-type']).toBe(PROMETHEUS_TEXT);
  expect(response.headers['cache-control']).toBe('no-store');
  return parseExposition(response.body);
}

/** A counter's value, 0 when its series is not there yet. */
const counter = (exposition: Exposition, name: string, labels: Record<string, string> = {}) =>
  exposition.value(name, labels) ?? 0;

/** How much a counter grew from one scrape to a later one. */
const increase = (later: Exposition, earlier: Exposition, name: string, labels: Record<string, string> = {}) =>
  counter(later, name, labels) - counter(earlier, name, labels);

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the exposition format parser (test support)', () => {
  it('reads HELP and TYPE, labels with escaped values, special values and timestamps', () => {
    const parsed = parseExposition(
      [
        '# A free comment',
        '# HELP requests_total Requests, with a \\\\ and a line\\nbreak.',
        '# TYPE requests_total counter',
        'requests_total{path="/a \\"quoted\\" \\\\ back\\nslash",code="200"} 3 1700000000000',
        'requests_total{path="/b",code="500",} 1.5e3',
        '# TYPE latency histogram',
        'latency_bucket{le="0.1"} 1',
        'latency_bucket{le="+Inf"} 2',
        'latency_sum 0.35',
        'latency_count 2',
        'temperature -Inf',
        'ratio NaN',
        '',
      ].join('\n'),
    );
    const requests = parsed.family('requests_total')!;
    expect(requests.type).toBe('counter');
    expect(requests.help).toBe('Requests, with a \\ and a line\nbreak.');
    expect(requests.samples[0]).toEqual({
      name: 'requests_total',
      labels: { path: '/a "quoted" \\ back\nslash', code: '200' },
      value: 3,
      timestamp: 1_700_000_000_000,
    });
    expect(parsed.value('requests_total', { path: '/b', code: '500' })).toBe(1500);
    expect(parsed.histogram('latency', {})).toEqual({
      buckets: [
        { le: 0.1, count: 1 },
        { le: Infinity, count: 2 },
      ],
      sum: 0.35,
      count: 2,
    });
    expect(parsed.family('temperature')).toMatchObject({ type: 'untyped', samples: [{ value: -Infinity }] });
    expect(parsed.value('ratio')).toBeNaN();
  });

  it('refuses what a Prometheus scraper would refuse', () => {
    const refused = [
      'x{a="unterminated} 1\n',
      'x{a="bad \\t escape"} 1\n',
      'x{a=unquoted} 1\n',
      'x 1 2 3\n',
      'x one\n',
      'x{a="1",a="2"} 1\n',
      '1x 1\n',
      'x 1\nx 2\n',
      'x{a="1"} 1\ny 1\nx{a="2"} 1\n',
      'x 1\n# TYPE x counter\n',
      '# TYPE x counter\n# TYPE x gauge\n',
      '# TYPE x flux\n',
      '# TYPE h histogram\nh_bucket 1\n',
      '# TYPE h histogram\nh_count{le="1"} 1\n',
      'x 1',
    ];
    for (const text of refused) expect(() => parseExposition(text), JSON.stringify(text)).toThrow(ExpositionError);
  });
});

describe('request metrics (requests.ts)', () => {
  it('puts each duration in its bucket, and escapes label values', () => {
    const requests = new RequestMetrics();
    const odd = '/odd/"quoted"\\path\nline';
    for (const seconds of [0.00025, 0.0003, 20]) requests.observe('GET', odd, 200, seconds);
    requests.observe('POST', undefined, 404, 0.001);
    const parsed = parseExposition(requests.exposition());
    const histogram = parsed.histogram('http_request_duration_seconds', {
      method: 'GET',
      route: odd,
      status_code: '200',
    })!;
    const upTo = (le: number) => histogram.buckets.find((bucket) => bucket.le === le)!.count;
    // A duration equal to a bound is in that bound's bucket (`le`: less than or equal).
    expect(upTo(0.00025)).toBe(1);
    expect(upTo(0.0005)).toBe(2);
    expect(upTo(10)).toBe(2);
    expect(upTo(Infinity)).toBe(3);
    expect(histogram.count).toBe(3);
    expect(histogram.sum).toBeCloseTo(20.00055, 9);
    expect(parsed.value('http_requests_total', { method: 'POST', route: UNMATCHED_ROUTE, status_code: '404' })).toBe(1);
  });
});

describe('GET /metrics', () => {
  let database: Database;
  let app: App;
  let writer: string;
  let ids: number[];
  let categoryId: number;

  const auth = () => ({ authorization: `Bearer ${writer}` });
  const ledgerRows = async () =>
    (await database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM stock_movements')).rows[0]!.n;

  beforeAll(async () => {
    database = await testDatabase();
    categoryId = (await insertTree(database)).running;
    app = await testApp(database, { config: { METRICS_TOKEN: TOKEN } });
    // Inserted once the app is ready: with products at start, it rebuilds the search words in the
    // background, on a primary connection that an import may then be handed (see the report).
    ids = (
      await insertProducts(
        database,
        Array.from({ length: 6 }, () => productRow({ categoryId, stock: 0 })),
      )
    ).map((row) => row.id);
    writer = (await app.keys.create('writer', ['stock:write', 'catalog:write'])).secret;
  });

  describe('access', () => {
    it('answers 401 problem+json without the token or with a wrong one', async () => {
      for (const authorization of [
        undefined,
        `Bearer ${TOKEN.replace(/.$/, 'x')}`,
        `Bearer ${writer}`,
        `Basic ${TOKEN}`,
      ]) {
        const response = await app.inject({ url: '/metrics', headers: authorization ? { authorization } : {} });
        expect(response.statusCode, String(authorization)).toBe(401);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
        expect(response.headers['cache-control']).toBe('no-store');
        expect(response.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
        expect(response.body).not.toContain('http_requests_total');
      }
    });

    it('does not exist without METRICS_TOKEN: a 404 like any unknown URL', async () => {
      const closed = await testApp(database);
      const metrics = await closed.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
      const unknown = await closed.inject({ url: '/no-such-thing' });
      expect(metrics.statusCode).toBe(404);
      expect(metrics.headers['content-type']).toBe(unknown.headers['content-type']);
      const { instance: _a, detail: _b, ...shape } = metrics.json();
      const { instance: _c, detail: _d, ...unknownShape } = unknown.json();
      expect(shape).toEqual(unknownShape);
    });

    it('stays out of the OpenAPI document', async () => {
      const document = (await app.inject('/openapi.json')).json<{ paths: Record<string, unknown> }>();
      expect(Object.keys(document.paths)).toContain('/v1/products');
      expect(Object.keys(document.paths)).not.toContain('/metrics');
    });
  });

  it('counts requests by method, route pattern and status, in a cumulative histogram', async () => {
    const before = await scrape(app);
    for (let i = 0; i < 3; i++) expect((await app.inject('/v1/products?limit=2')).statusCode).toBe(200);
    for (const id of ids.slice(0, 4)) expect((await app.inject(`/v1/products/${id}`)).statusCode).toBe(200);
    expect((await app.inject('/v1/products/999999999')).statusCode).toBe(404);
    for (const url of ['/nope', `/nope/${randomBytes(4).toString('hex')}`]) {
      expect((await app.inject(url)).statusCode).toBe(404);
    }
    const after = await scrape(app);

    const delta = (method: string, route: string, status: string) => {
      const labels = { method, route, status_code: status };
      const was = before.histogram('http_request_duration_seconds', labels)?.count ?? 0;
      return (after.histogram('http_request_duration_seconds', labels)?.count ?? 0) - was;
    };
    expect(delta('GET', '/v1/products', '200')).toBe(3);
    expect(delta('GET', '/v1/products/:idOrSlug', '200')).toBe(4);
    expect(delta('GET', '/v1/products/:idOrSlug', '404')).toBe(1);
    expect(delta('GET', UNMATCHED_ROUTE, '404')).toBe(2);
    // The scrape before this one was counted too, once answered.
    expect(delta('GET', '/metrics', '200')).toBe(1);

    const family = after.family('http_request_duration_seconds')!;
    expect(family.type).toBe('histogram');
    expect(after.family('http_requests_total')!.type).toBe('counter');
    const series = after.samples('http_request_duration_seconds_count');
    expect(series.length).toBeGreaterThanOrEqual(5);
    for (const { labels } of series) {
      // Route patterns only: no id, no unknown URL.
      expect(labels.route === UNMATCHED_ROUTE || labels.route!.startsWith('/')).toBe(true);
      expect(labels.route).not.toMatch(/\/\d+(\/|$)|nope/);
      const histogram = after.histogram('http_request_duration_seconds', labels)!;
      expect(histogram.buckets.map((b) => b.le)).toEqual([...HTTP_DURATION_BUCKETS, Infinity]);
      for (let i = 1; i < histogram.buckets.length; i++) {
        expect(histogram.buckets[i]!.count).toBeGreaterThanOrEqual(histogram.buckets[i - 1]!.count);
      }
      expect(histogram.buckets.at(-1)!.count).toBe(histogram.count);
      expect(histogram.sum).toBeGreaterThan(0);
      // The counter and the histogram count the same requests.
      expect(after.value('http_requests_total', labels)).toBe(histogram.count);
    }
  });

  it('counts stock changes by kind and outcome, and not the replays', async () => {
    const [a, b, c] = ids as [number, number, number];
    const ledgerBefore = await ledgerRows();
    const before = await scrape(app);
    const adjust = (id: number, delta: number, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url: `/v1/products/${id}/stock-adjustments`,
        headers: { ...auth(), ...headers },
        payload: { delta, reason: 'metrics test' },
      });
    expect((await adjust(a, 5)).statusCode).toBe(201);
    expect((await adjust(a, -10)).statusCode).toBe(409);
    expect((await adjust(999_999_999, 1)).statusCode).toBe(404);
    expect((await adjust(b, 2, { 'idempotency-key': 'metrics-once' })).statusCode).toBe(201);
    const replay = await adjust(b, 2, { 'idempotency-key': 'metrics-once' });
    expect(replay.headers['idempotent-replayed']).toBe('true');

    const set = (payload: object) =>
      app.inject({ method: 'PUT', url: `/v1/products/${c}/stock`, headers: auth(), payload });
    expect((await set({ stock: 9, expected: 0, reason: 'count' })).statusCode).toBe(200);
    expect((await set({ stock: 4, expected: 0, reason: 'stale count' })).statusCode).toBe(412);

    const batch = (atomic: boolean, items: { product_id: number; delta: number }[]) =>
      app.inject({
        method: 'POST',
        url: '/v1/stock-adjustments',
        headers: auth(),
        payload: { atomic, items: items.map((item) => ({ ...item, reason: 'batch' })) },
      });
    const loose = await batch(false, [
      { product_id: a, delta: 1 },
      { product_id: b, delta: -1 },
      { product_id: c, delta: -100 },
    ]);
    expect(loose.json()).toMatchObject({ applied: 2, refused: 1 });
    expect(
      (
        await batch(true, [
          { product_id: a, delta: 1 },
          { product_id: b, delta: -100 },
        ])
      ).statusCode,
    ).toBe(409);

    const after = await scrape(app);
    const changes = (kind: string, outcome: string) =>
      increase(after, before, 'catalogue_stock_changes_total', { kind, outcome });
    expect(changes('adjustment', 'applied')).toBe(2);
    expect(changes('adjustment', 'refused')).toBe(2);
    expect(changes('set', 'applied')).toBe(1);
    expect(changes('set', 'refused')).toBe(1);
    expect(changes('batch', 'applied')).toBe(2);
    expect(changes('batch', 'refused')).toBe(3);
    // Every applied change wrote one ledger row (none of them set the stock it already had).
    const applied = changes('adjustment', 'applied') + changes('set', 'applied') + changes('batch', 'applied');
    expect((await ledgerRows()) - ledgerBefore).toBe(applied);
  });

  it('counts imports by outcome and their rows, and not the replays', async () => {
    const before = await scrape(app);
    const line = (sku: string, extra: object = {}) =>
      JSON.stringify({
        sku,
        slug: sku.toLowerCase(),
        name: `Imported ${sku}`,
        category: 'running',
        price: { amount: 1999, currency: 'EUR' },
        ...extra,
      });
    const post = (body: string, query = '', headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url: `/v1/imports/products${query}`,
        headers: { ...auth(), ...headers, 'content-type': 'application/x-ndjson' },
        payload: `${body}\n`,
      });
    const first = await post([line('M-1'), line('M-2'), line('M-3')].join('\n'));
    expect(first.json()).toMatchObject({ created: 3, updated: 0, unchanged: 0, rejected: 0 });
    const second = await post(
      [line('M-1', { name: 'Renamed' }), line('M-2'), line('M-4', { category: 'no-such-category' })].join('\n'),
      '',
      { 'idempotency-key': 'metrics-import' },
    );
    expect(second.json()).toMatchObject({ created: 0, updated: 1, unchanged: 1, rejected: 1 });
    const replayed = await post(
      [line('M-1', { name: 'Renamed' }), line('M-2'), line('M-4', { category: 'no-such-category' })].join('\n'),
      '',
      { 'idempotency-key': 'metrics-import' },
    );
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    const refused = await post([line('M-5'), '{"not": "a product"}'].join('\n'), '?atomic=true');
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ report: { created: 1, rejected: 1 } });

    const after = await scrape(app);
    const delta = (name: string, outcome: string) => increase(after, before, name, { outcome });
    expect(delta('catalogue_imports_total', 'completed')).toBe(2);
    expect(delta('catalogue_imports_total', 'refused')).toBe(1);
    expect(delta('catalogue_imports_total', 'failed')).toBe(0);
    // The refused import's row that would have been created was not: only its rejection counts.
    expect(delta('catalogue_import_rows_total', 'created')).toBe(3);
    expect(delta('catalogue_import_rows_total', 'updated')).toBe(1);
    expect(delta('catalogue_import_rows_total', 'unchanged')).toBe(1);
    expect(delta('catalogue_import_rows_total', 'rejected')).toBe(2);
    const { rows } = await database.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM products WHERE sku LIKE 'M-%'`,
    );
    expect(rows[0]!.n).toBe(delta('catalogue_import_rows_total', 'created'));
  });

  it("reports each pool's connections: open, idle and waited for", async () => {
    // One connection of the product pages' pool held, so its figures are not all zero.
    const held = await database.pagePool.connect();
    try {
      const exposition = await scrape(app);
      expect(exposition.family('catalogue_db_pool_connections')!.type).toBe('gauge');
      for (const name of Object.keys(database.pools)) {
        for (const state of ['total', 'idle', 'waiting']) {
          const value = exposition.value('catalogue_db_pool_connections', { pool: name, state });
          expect(value, `${name} ${state}`).toBeGreaterThanOrEqual(0);
        }
      }
      // The scrape does not touch this pool: the figures are the pool's own.
      const pages = (state: string) => exposition.value('catalogue_db_pool_connections', { pool: 'pages', state });
      expect(pages('total')).toBe(database.pagePool.totalCount);
      expect(pages('total')).toBeGreaterThanOrEqual(1);
      expect(pages('idle')).toBe(database.pagePool.idleCount);
      expect(pages('idle')).toBe(pages('total')! - 1);
      expect(pages('waiting')).toBe(0);
    } finally {
      held.release();
    }
  });

  it('reports the search outbox: its length and the age of its oldest change', async () => {
    const empty = await scrape(app);
    expect(empty.value('catalogue_search_outbox_rows')).toBe(0);
    expect(empty.value('catalogue_search_index_lag_seconds')).toBe(0);

    // An index kept in step: the triggers record changes from now on (migrations/0006).
    await database.pool.query(`INSERT INTO search_sync (index_uid) VALUES ('metrics_test')`);
    try {
      await database.pool.query(`UPDATE products SET name = name || ' (renamed)' WHERE id = ANY($1::bigint[])`, [
        ids.slice(0, 4),
      ]);
      await insertProducts(database, [productRow({ categoryId }), productRow({ categoryId })]);
      const started = performance.now();
      const exposition = await scrape(app);
      const { rows } = await database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM search_outbox');
      expect(rows[0]!.n).toBe(6);
      expect(exposition.value('catalogue_search_outbox_rows')).toBe(rows[0]!.n);
      const lag = exposition.value('catalogue_search_index_lag_seconds')!;
      expect(lag).toBeGreaterThan(0);
      // No older than the time this test has been running since the first change, give or take a second.
      expect(lag).toBeLessThan((performance.now() - started) / 1000 + 60);
    } finally {
      await database.pool.query('DELETE FROM search_sync');
      await database.pool.query('DELETE FROM search_outbox');
    }
  });

  it('has no indexer counters without an indexer in this process, and the process metrics', async () => {
    const exposition = await scrape(app);
    expect(exposition.family('catalogue_search_indexer_batches_total')).toBeUndefined();
    expect(exposition.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(exposition.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(exposition.family('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(exposition.family('nodejs_gc_duration_seconds')?.type).toBe('histogram');
  });
});

describe('GET /metrics with the database unreachable', () => {
  it('answers at once, leaving out the gauges it could not read', async () => {
    // A "server" that accepts connections and never answers: what a partitioned network looks like.
    const sockets = new Set<Socket>();
    const blackHole = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as { port: number }).port;
    const database = createDatabase(`postgres://nobody:nothing@127.0.0.1:${port}/nothing`, { poolSize: 2 });
    const app = await buildApp({
      config: testConfig({ METRICS_TOKEN: TOKEN }),
      database,
      logger: false,
    });
    try {
      await app.ready();
      const started = performance.now();
      const exposition = await scrape(app);
      // Bounded by the metrics' own timeout (1 s), well before pg gives up connecting (5 s).
      expect(performance.now() - started).toBeLessThan(4_000);
      expect(exposition.family('catalogue_search_outbox_rows')?.samples).toEqual([]);
      expect(exposition.family('catalogue_search_index_lag_seconds')?.samples).toEqual([]);
      for (const name of Object.keys(database.pools)) {
        expect(exposition.value('catalogue_db_pool_connections', { pool: name, state: 'total' })).toBeDefined();
      }
    } finally {
      // Pending connections fail now, rather than after pg's own timeout.
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
      await app.close();
      await database.close();
    }
  });
});

describe('indexer counters, with the in-process indexer and the Meilisearch STAND-IN (not a real Meilisearch)', () => {
  let standIn: MeiliStandIn;
  let database: Database;
  let app: App;
  let ids: number[];

  const outboxLength = async () =>
    Number((await database.pool.query<{ n: string }>('SELECT count(*) AS n FROM search_outbox')).rows[0]!.n);

  beforeAll(async () => {
    standIn = new MeiliStandIn();
    await standIn.start();
    database = await testDatabase();
    const tree = await insertTree(database);
    ids = (
      await insertProducts(
        database,
        Array.from({ length: 10 }, () => productRow({ categoryId: tree.kitchen })),
      )
    ).map((row) => row.id);
    app = await testApp(database, {
      config: {
        MEILISEARCH_URL: standIn.url,
        MEILISEARCH_KEY: standIn.key,
        MEILISEARCH_INDEX: `products_metrics_${randomBytes(4).toString('hex')}`,
        MEILISEARCH_TIMEOUT_MS: 1_000,
        MEILISEARCH_TASK_TIMEOUT_MS: 2_000,
        SEARCH_INDEXER: 'in-process',
        METRICS_TOKEN: TOKEN,
      },
    });
    await waitUntil('the index is built', async () => {
      const { rows } = await database.pool.query<{ ready: boolean }>('SELECT ready FROM search_sync');
      return rows[0]?.ready === true;
    });
  });

  afterAll(async () => {
    expect(standIn.violations).toEqual([]);
    await standIn.stop();
  });

  it('counts batches, documents and failures as the indexer drains the outbox', async () => {
    const before = await scrape(app);
    for (const name of ['batches', 'documents', 'failures']) {
      expect(before.family(`catalogue_search_indexer_${name}_total`)?.type).toBe('counter');
    }

    await database.pool.query(`UPDATE products SET name = name || ' renamed' WHERE id = ANY($1::bigint[])`, [
      ids.slice(0, 3),
    ]);
    await database.pool.query(`UPDATE products SET status = 'archived' WHERE id = $1`, [ids[3]]);
    await waitUntil('the outbox is drained', async () => (await outboxLength()) === 0);
    const drained = await scrape(app);
    const delta = (after: Exposition, earlier: Exposition, name: string, labels: Record<string, string> = {}) =>
      increase(after, earlier, `catalogue_search_indexer_${name}_total`, labels);
    expect(delta(drained, before, 'batches')).toBeGreaterThanOrEqual(1);
    expect(delta(drained, before, 'documents', { operation: 'upsert' })).toBe(3);
    expect(delta(drained, before, 'documents', { operation: 'delete' })).toBe(1);
    expect(delta(drained, before, 'failures')).toBe(0);
    expect(drained.value('catalogue_search_outbox_rows')).toBe(0);
    expect(counter(drained, 'catalogue_search_indexer_batches_total')).toBe(app.meili!.indexer!.stats.batches);

    // Meilisearch fails the next task: the batch fails, stays in the outbox, and is retried.
    standIn.failTasks(1);
    await database.pool.query(`UPDATE products SET name = name || ' again' WHERE id = $1`, [ids[4]]);
    await waitUntil('the failed batch is retried and drained', async () => (await outboxLength()) === 0);
    const retried = await scrape(app);
    expect(delta(retried, drained, 'failures')).toBe(1);
    expect(delta(retried, drained, 'documents', { operation: 'upsert' })).toBe(1);
  });
});

describe('the separate indexer process (npm run -s indexer) with METRICS_PORT, against the Meilisearch STAND-IN', () => {
  let standIn: MeiliStandIn;
  let database: TestDatabase;
  let indexer: Running | undefined;

  beforeAll(async () => {
    standIn = new MeiliStandIn();
    await standIn.start();
    database = await testDatabase();
    await insertTree(database);
  });

  afterAll(async () => {
    if (indexer && indexer.child.exitCode === null) indexer.child.kill('SIGKILL');
    await standIn.stop();
  });

  it('serves its indexer counters and the outbox gauges, behind the token', async () => {
    indexer = startNode(['--import', 'tsx', 'api/src/cli/search-index.ts', 'indexer'], {
      DATABASE_URL: database.url,
      MEILISEARCH_URL: standIn.url,
      MEILISEARCH_KEY: standIn.key,
      MEILISEARCH_INDEX: `products_indexer_metrics_${randomBytes(4).toString('hex')}`,
      METRICS_TOKEN: TOKEN,
      METRICS_PORT: '0',
      API_HOST: '127.0.0.1',
    });
    let url: string | undefined;
    await waitUntil(
      'the indexer is running',
      async () => {
        if (indexer!.child.exitCode !== null) throw new Error(`the indexer exited:\n${indexer!.output()}`);
        url = /metrics at (http:\/\/\S+)/.exec(indexer!.output())?.[1];
        return url !== undefined && indexer!.output().includes('until SIGTERM');
      },
      60_000,
    );
    const unauthorised = await fetch(url!);
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(url!, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status).toBe(401);

    const [category] = (await database.pool.query<{ id: number }>(`SELECT id FROM categories LIMIT 1`)).rows;
    await insertProducts(
      database,
      Array.from({ length: 4 }, () => productRow({ categoryId: category!.id })),
    );
    const outbox = async () =>
      Number((await database.pool.query<{ n: string }>('SELECT count(*) AS n FROM search_outbox')).rows[0]!.n);
    await waitUntil('the outbox is drained', async () => (await outbox()) === 0, 30_000);
    const response = await fetch(url!, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
    const scraped = parseExposition(await response.text());
    expect(scraped.value('catalogue_search_indexer_documents_total', { operation: 'upsert' })).toBe(4);
    expect(scraped.value('catalogue_search_indexer_batches_total')).toBeGreaterThanOrEqual(1);
    expect(scraped.value('catalogue_search_indexer_failures_total')).toBe(0);
    expect(scraped.value('catalogue_search_outbox_rows')).toBe(0);
    expect(scraped.family('process_resident_memory_bytes')?.type).toBe('gauge');

    indexer.child.kill('SIGTERM');
    expect(await indexer.exited).toBe(0);
    expect(standIn.violations).toEqual([]);
  });
});
