import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import { KeyRepository, VERIFIED_KEY_TTL_MS } from '../src/auth/keys.ts';
import type { Database } from '../src/db/database.ts';
import { testApp, testConfig, testDatabase } from './support/database.ts';
import { catalogueChecksum, insertProducts, insertTree, productRow } from './support/fixtures.ts';

describe('stock', () => {
  let database: Database;
  let app: App;
  let writer: string;
  let catalogOnly: string;
  let revoked: string;
  let categoryId: number;

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  async function newProduct(stock = 0) {
    const [row] = await insertProducts(database, [productRow({ categoryId, stock: 0 })]);
    if (stock > 0) await adjust(row!.id, stock, writer);
    return row!.id;
  }

  function adjust(id: number, delta: number, key: string, headers: Record<string, string> = {}) {
    return app.inject({
      method: 'POST',
      url: `/v1/products/${id}/stock-adjustments`,
      headers: { ...auth(key), ...headers },
      payload: { delta, reason: 'test' },
    });
  }

  async function stockOf(id: number) {
    const { rows } = await database.pool.query<{ stock: number; ledger: number }>(
      `SELECT p.stock, coalesce((SELECT sum(delta)::int FROM stock_movements WHERE product_id = p.id), 0) AS ledger
       FROM products p WHERE id = $1`,
      [id],
    );
    return rows[0]!;
  }

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database);
    categoryId = (await insertTree(database)).running;
    writer = (await app.keys.create('writer', ['stock:write'])).secret;
    catalogOnly = (await app.keys.create('catalog', ['catalog:write'])).secret;
    const gone = await app.keys.create('gone', ['stock:write']);
    await app.keys.revoke(gone.id);
    revoked = gone.secret;
  });

  describe('happy path', () => {
    it('adjusts atomically, writes the ledger, and answers the new version', async () => {
      const id = await newProduct(10);
      const response = await adjust(id, -3, writer);
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toMatchObject({ product_id: id, stock: 7, movement: { delta: -3, stock_after: 7, reason: 'test' } });
      expect(body.movement.api_key).toMatchObject({ name: 'writer' });
      expect(response.headers.etag).toBe(`"${body.version}"`);
      expect(await stockOf(id)).toEqual({ stock: 7, ledger: 7 });
    });

    it('sets an absolute level when If-Match or expected still hold', async () => {
      const id = await newProduct(5);
      const { version } = (await adjust(id, 1, writer)).json();
      const set = await app.inject({
        method: 'PUT',
        url: `/v1/products/${id}/stock`,
        headers: { ...auth(writer), 'if-match': `"${version}"` },
        payload: { stock: 42, reason: 'stock take' },
      });
      expect(set.statusCode).toBe(200);
      expect(set.json()).toMatchObject({ stock: 42, movement: { delta: 36 } });
      const byExpected = await app.inject({
        method: 'PUT',
        url: `/v1/products/${id}/stock`,
        headers: auth(writer),
        payload: { stock: 40, expected: 42, reason: 'recount' },
      });
      expect(byExpected.json()).toMatchObject({ stock: 40, movement: { delta: -2 } });
      expect(await stockOf(id)).toEqual({ stock: 40, ledger: 40 });
    });

    it('lists the ledger newest first, a page at a time', async () => {
      const id = await newProduct(3);
      for (let i = 0; i < 4; i += 1) await adjust(id, 1, writer);
      const first = await app.inject({ url: `/v1/products/${id}/stock-movements?limit=3`, headers: auth(writer) });
      expect(first.statusCode).toBe(200);
      const page = first.json();
      expect(page.data.map((m: { stock_after: number }) => m.stock_after)).toEqual([7, 6, 5]);
      const second = await app.inject({
        url: `/v1/products/${id}/stock-movements?limit=3&cursor=${page.next_cursor}`,
        headers: auth(writer),
      });
      expect(second.json().data.map((m: { stock_after: number }) => m.stock_after)).toEqual([4, 3]);
      expect(second.json().next_cursor).toBeNull();
    });
  });

  describe('stock levels', () => {
    it('reads the live stock and version by id or sku, drafts included, for a key with stock:write', async () => {
      const id = await newProduct(7);
      const [draft] = await insertProducts(database, [productRow({ categoryId, status: 'draft', stock: 3 })]);
      const { rows } = await database.pool.query<{ sku: string }>('SELECT sku FROM products WHERE id = $1', [
        draft!.id,
      ]);
      const response = await app.inject({
        url: `/v1/stock-levels?id=${id}&sku=${encodeURIComponent(rows[0]!.sku)}&sku=NO-SUCH-SKU`,
        headers: auth(writer),
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.json().data).toEqual([
        expect.objectContaining({ id, stock: 7, status: 'active', version: expect.any(Number) }),
        expect.objectContaining({ id: draft!.id, stock: 3, status: 'draft', sku: rows[0]!.sku }),
      ]);
      expect((await app.inject({ url: `/v1/stock-levels?id=${id}` })).statusCode).toBe(401);
      expect((await app.inject({ url: `/v1/stock-levels?id=${id}`, headers: auth(catalogOnly) })).statusCode).toBe(403);
      expect((await app.inject({ url: '/v1/stock-levels', headers: auth(writer) })).statusCode).toBe(400);
    });

    it('refuses a SKU with a control character (NUL included) with 400', async () => {
      for (const sku of ['a%00b', 'tab%09', 'del%7F']) {
        const response = await app.inject({ url: `/v1/stock-levels?sku=${sku}`, headers: auth(writer) });
        expect(response.statusCode, sku).toBe(400);
        expect(response.json().errors[0]).toMatchObject({ in: 'query', name: 'sku.0' });
      }
    });
  });

  describe('input as written', () => {
    it('reads a product id in the path only as a decimal number: 0x1A, 1e3, " 1" and 1.0 are 400, changing nothing', async () => {
      const id = await newProduct(1);
      const before = await catalogueChecksum(database);
      for (const path of [`0x${id.toString(16)}`, `${id}e0`, `%20${id}`, `%2B${id}`, `${id}.0`, '9'.repeat(30)]) {
        const response = await app.inject({
          method: 'POST',
          url: `/v1/products/${path}/stock-adjustments`,
          headers: auth(writer),
          payload: { delta: 1, reason: 'x' },
        });
        expect(response.statusCode, path).toBe(400);
        expect(response.json().errors[0], path).toMatchObject({ in: 'path', name: 'id' });
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('takes a JSON body as sent: text for a number, a number for text, null for false are 400, changing nothing', async () => {
      const id = await newProduct(1);
      const before = await catalogueChecksum(database);
      const item = { product_id: id, delta: 1, reason: 'x' };
      for (const [url, payload] of [
        [`/v1/products/${id}/stock-adjustments`, { delta: '5', reason: 'x' }],
        [`/v1/products/${id}/stock-adjustments`, { delta: 5, reason: 7 }],
        [`/v1/products/${id}/stock`, { stock: '3', expected: 1, reason: 'x' }],
        ['/v1/stock-adjustments', { items: [item], atomic: 'true' }],
        ['/v1/stock-adjustments', { items: [item], atomic: null }],
        ['/v1/stock-adjustments', { items: item }],
      ] as const) {
        const response = await app.inject({
          method: url.endsWith('/stock') ? 'PUT' : 'POST',
          url,
          headers: auth(writer),
          payload,
        });
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
        expect(response.json().errors[0].in).toBe('body');
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('refuses a query parameter a stock write does not take: a misplaced ?atomic=true is not ignored (400)', async () => {
      const [a, b] = [await newProduct(5), await newProduct(1)];
      const before = await catalogueChecksum(database);
      const items = [
        { product_id: a, delta: -2, reason: 'order' },
        { product_id: b, delta: -3, reason: 'order' },
      ];
      for (const [method, url, payload] of [
        ['POST', '/v1/stock-adjustments?atomic=true', { items }],
        ['POST', `/v1/products/${a}/stock-adjustments?dry_run=1`, { delta: 1, reason: 'x' }],
        ['PUT', `/v1/products/${a}/stock?force=true`, { stock: 1, expected: 5, reason: 'x' }],
      ] as const) {
        const response = await app.inject({ method, url, headers: auth(writer), payload });
        expect(response.statusCode, url).toBe(400);
        expect(response.json().errors[0]).toMatchObject({ in: 'query', detail: 'is not a known parameter' });
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });
  });

  describe('conflicts', () => {
    it('refuses a decrement below zero with 409 and the current stock, changing nothing', async () => {
      const id = await newProduct(2);
      const response = await adjust(id, -3, writer);
      expect(response.statusCode).toBe(409);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ status: 409, current_stock: 2 });
      expect(await stockOf(id)).toEqual({ stock: 2, ledger: 2 });
    });

    it('refuses a stale If-Match or expected with 412, and a PUT with neither with 428', async () => {
      const id = await newProduct(5);
      const put = (headers: Record<string, string>, payload: object) =>
        app.inject({
          method: 'PUT',
          url: `/v1/products/${id}/stock`,
          headers: { ...auth(writer), ...headers },
          payload,
        });
      const stale = await put({ 'if-match': '"1"' }, { stock: 9, reason: 'x' });
      expect(stale.statusCode).toBe(412);
      expect(stale.json()).toMatchObject({ current_stock: 5, current_version: expect.any(Number) });
      expect((await put({}, { stock: 9, expected: 4, reason: 'x' })).statusCode).toBe(412);
      expect((await put({}, { stock: 9, reason: 'x' })).statusCode).toBe(428);
      expect((await put({ 'if-match': 'W/"3"' }, { stock: 9, reason: 'x' })).statusCode).toBe(400);
      expect(await stockOf(id)).toEqual({ stock: 5, ledger: 5 });
    });

    it('answers 404 for an unknown product and 400 for bad bodies, changing nothing', async () => {
      const before = await catalogueChecksum(database);
      expect((await adjust(999_999, 1, writer)).statusCode).toBe(404);
      for (const payload of [
        { delta: 0, reason: 'x' },
        { delta: 1.5, reason: 'x' },
        { delta: 'one', reason: 'x' },
        { delta: 1 },
        { delta: 1, reason: '' },
        { delta: 1, reason: 'x'.repeat(201) },
        { delta: 1, reason: 'x', extra: true },
        { delta: 2_000_000_000, reason: 'x' },
      ]) {
        const id = 1;
        const response = await app.inject({
          method: 'POST',
          url: `/v1/products/${id}/stock-adjustments`,
          headers: auth(writer),
          payload,
        });
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('refuses to raise the stock past 1,000,000,000 with 409, alone or in a batch, changing nothing', async () => {
      const id = await newProduct(900_000_000);
      const before = await catalogueChecksum(database);
      for (let i = 0; i < 3; i += 1) {
        const response = await adjust(id, 900_000_000, writer);
        expect(response.statusCode).toBe(409);
        expect(response.json()).toMatchObject({
          type: expect.stringMatching(/stock-limit$/),
          current_stock: 900_000_000,
        });
      }
      const items = [{ product_id: id, delta: 900_000_000, reason: 'delivery' }];
      const batch = await app.inject({
        method: 'POST',
        url: '/v1/stock-adjustments',
        headers: auth(writer),
        payload: { items },
      });
      expect(batch.json()).toMatchObject({
        applied: 0,
        refused: 1,
        results: [{ status: 'stock_limit', stock: 900_000_000 }],
      });
      const atomic = await app.inject({
        method: 'POST',
        url: '/v1/stock-adjustments',
        headers: auth(writer),
        payload: { items, atomic: true },
      });
      expect(atomic.statusCode).toBe(409);
      expect(atomic.json().errors[0].detail).toMatch(/above 1000000000/);
      expect(await catalogueChecksum(database)).toBe(before);
      expect((await adjust(id, 100_000_000, writer)).statusCode).toBe(201);
      expect(await stockOf(id)).toEqual({ stock: 1_000_000_000, ledger: 1_000_000_000 });
    });
    it('leaves the bounds to PostgreSQL too: a raw UPDATE above 1,000,000,000 or below zero is refused', async () => {
      const id = await newProduct(5);
      const before = await catalogueChecksum(database);
      await expect(
        database.pool.query('UPDATE products SET stock = 1000000001 WHERE id = $1', [id]),
      ).rejects.toMatchObject({ code: '23514', constraint: 'products_stock_not_above_limit' });
      await expect(
        database.pool.query('UPDATE products SET stock = stock + 999999999 WHERE id = $1', [id]),
      ).rejects.toMatchObject({ code: '23514', constraint: 'products_stock_not_above_limit' });
      await expect(database.pool.query('UPDATE products SET stock = -1 WHERE id = $1', [id])).rejects.toMatchObject({
        code: '23514',
        constraint: 'products_stock_not_negative',
      });
      await expect(
        database.pool.query(
          `INSERT INTO stock_movements (product_id, delta, reason, stock_after) VALUES ($1, 1, 'raw', 1000000001)`,
          [id],
        ),
      ).rejects.toMatchObject({ code: '23514', constraint: 'stock_movements_stock_after_not_above_limit' });
      expect(await catalogueChecksum(database)).toBe(before);
      expect(await stockOf(id)).toEqual({ stock: 5, ledger: 5 });
    });
  });

  describe('concurrency (real HTTP)', () => {
    it('sells exactly the stock to 1,000 concurrent single-unit buyers', async () => {
      const id = await newProduct(100);
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      const responses = await Promise.all(
        Array.from({ length: 1_000 }, () =>
          fetch(`${address}/v1/products/${id}/stock-adjustments`, {
            method: 'POST',
            headers: { ...auth(writer), 'content-type': 'application/json' },
            body: JSON.stringify({ delta: -1, reason: 'sale' }),
          }).then((r) => r.status),
        ),
      );
      const count = (status: number) => responses.filter((s) => s === status).length;
      expect({ sold: count(201), refused: count(409), other: 1_000 - count(201) - count(409) }).toEqual({
        sold: 100,
        refused: 900,
        other: 0,
      });
      expect(await stockOf(id)).toEqual({ stock: 0, ledger: 0 });
    });

    it('lets exactly one of many concurrent PUTs with the same If-Match win', async () => {
      const id = await newProduct(10);
      const { rows } = await database.pool.query<{ version: number }>('SELECT version FROM products WHERE id = $1', [
        id,
      ]);
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          app.inject({
            method: 'PUT',
            url: `/v1/products/${id}/stock`,
            headers: { ...auth(writer), 'if-match': `"${rows[0]!.version}"` },
            payload: { stock: 100 + i, reason: 'recount' },
          }),
        ),
      );
      const statuses = responses.map((r) => r.statusCode);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 412)).toHaveLength(19);
      const winner = responses.find((r) => r.statusCode === 200)!.json();
      expect(await stockOf(id)).toEqual({ stock: winner.stock, ledger: winner.stock });
    });
  });

  describe('batches', () => {
    const batch = (payload: object, headers: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url: '/v1/stock-adjustments', headers: { ...auth(writer), ...headers }, payload });

    it('applies each item on its own, with a result per item in request order', async () => {
      const [a, b] = [await newProduct(5), await newProduct(1)];
      const response = await batch({
        items: [
          { product_id: a, delta: -2, reason: 'order' },
          { product_id: b, delta: -3, reason: 'order' },
          { product_id: 999_999, delta: 1, reason: 'order' },
          { product_id: a, delta: 10, reason: 'delivery' },
        ],
      });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toMatchObject({ applied: 2, refused: 2 });
      expect(body.results.map((r: { status: string; stock: number }) => [r.status, r.stock])).toEqual([
        ['applied', 3],
        ['insufficient_stock', 1],
        ['not_found', 0],
        ['applied', 13],
      ]);
      expect(await stockOf(a)).toEqual({ stock: 13, ledger: 13 });
      expect(await stockOf(b)).toEqual({ stock: 1, ledger: 1 });
    });

    it('applies nothing when an atomic batch has an item that cannot apply', async () => {
      const [a, b] = [await newProduct(5), await newProduct(1)];
      const response = await batch({
        atomic: true,
        items: [
          { product_id: a, delta: -2, reason: 'order' },
          { product_id: b, delta: -3, reason: 'order' },
        ],
      });
      expect(response.statusCode).toBe(409);
      expect(response.json().errors).toEqual([
        { in: 'body', name: 'items.1', detail: 'insufficient stock: 1 in stock' },
      ]);
      expect(await stockOf(a)).toEqual({ stock: 5, ledger: 5 });
    });

    it('refuses more than 1,000 items', async () => {
      const id = await newProduct(1);
      const items = Array.from({ length: 1_001 }, () => ({ product_id: id, delta: 1, reason: 'x' }));
      expect((await batch({ items })).statusCode).toBe(400);
      expect(await stockOf(id)).toEqual({ stock: 1, ledger: 1 });
    });

    it('never oversells when batches race single adjustments on one product', async () => {
      const id = await newProduct(100);
      const singles = Array.from({ length: 300 }, () =>
        adjust(id, -1, writer).then((r) => (r.statusCode === 201 ? 1 : r.statusCode === 409 ? 0 : NaN)),
      );
      const batches = Array.from({ length: 20 }, () =>
        batch({ items: Array.from({ length: 10 }, () => ({ product_id: id, delta: -1, reason: 'batch' })) }).then(
          (r) => {
            expect(r.statusCode).toBe(200);
            return r.json().applied as number;
          },
        ),
      );
      const sold = [...(await Promise.all(singles)), ...(await Promise.all(batches))].reduce((a, b) => a + b, 0);
      expect(sold).toBe(100);
      expect(await stockOf(id)).toEqual({ stock: 0, ledger: 0 });
    });
  });

  describe('idempotency', () => {
    it('applies 50 parallel retries of one POST once, all answering the same', async () => {
      const id = await newProduct(10);
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => adjust(id, -2, writer, { 'idempotency-key': `order-${id}` })),
      );
      expect(new Set(responses.map((r) => r.statusCode))).toEqual(new Set([201]));
      expect(new Set(responses.map((r) => r.body)).size).toBe(1);
      expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(49);
      expect(await stockOf(id)).toEqual({ stock: 8, ledger: 8 });
    });

    it('replays a refusal too, and refuses the key with another body (422)', async () => {
      const id = await newProduct(1);
      const first = await adjust(id, -5, writer, { 'idempotency-key': `too-many-${id}` });
      expect(first.statusCode).toBe(409);
      await adjust(id, 10, writer);
      const retry = await adjust(id, -5, writer, { 'idempotency-key': `too-many-${id}` });
      expect(retry.statusCode).toBe(409);
      expect(retry.json()).toEqual(first.json());
      const other = await adjust(id, -1, writer, { 'idempotency-key': `too-many-${id}` });
      expect(other.statusCode).toBe(422);
      expect(await stockOf(id)).toEqual({ stock: 11, ledger: 11 });
    });
  });

  describe('security', () => {
    const writes = (id: number) => [
      {
        method: 'POST' as const,
        url: '/v1/stock-adjustments',
        payload: { items: [{ product_id: id, delta: 1, reason: 'x' }] },
      },
      { method: 'POST' as const, url: `/v1/products/${id}/stock-adjustments`, payload: { delta: 1, reason: 'x' } },
      { method: 'PUT' as const, url: `/v1/products/${id}/stock`, payload: { stock: 9, expected: 0, reason: 'x' } },
      { method: 'GET' as const, url: `/v1/products/${id}/stock-movements` },
    ];

    it('answers 401 or 403 to every stock route without the right key, changing nothing', async () => {
      const id = await newProduct(0);
      const before = await catalogueChecksum(database);
      const cases: [string, Record<string, string>, number][] = [
        ['no key', {}, 401],
        ['not bearer', { authorization: `Basic ${writer}` }, 401],
        ['malformed key', auth('cat_nope'), 401],
        ['unknown key', auth(`cat_abcdefgh_${'A'.repeat(43)}`), 401],
        ['revoked key', auth(revoked), 401],
        ['key without the scope', auth(catalogOnly), 403],
      ];
      for (const route of writes(id)) {
        for (const [label, headers, status] of cases) {
          const response = await app.inject({ ...route, headers });
          expect(response.statusCode, `${route.method} ${route.url}: ${label}`).toBe(status);
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
          if (status === 401) expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
        }
      }
      expect(await catalogueChecksum(database)).toBe(before);
      const { rows } = await database.db.execute(
        sql`SELECT count(*)::int AS n FROM stock_movements WHERE product_id = ${id}`,
      );
      expect(rows[0]).toEqual({ n: 0 });
    });

    it('stops a revoked key at once here, and within seconds when revoked elsewhere', async () => {
      const id = await newProduct(0);
      const here = await app.keys.create('revoked here', ['stock:write']);
      expect((await adjust(id, 1, here.secret)).statusCode).toBe(201);
      await app.keys.revoke(here.id);
      expect((await adjust(id, 1, here.secret)).statusCode).toBe(401);

      const elsewhere = await app.keys.create('revoked elsewhere', ['stock:write']);
      expect((await adjust(id, 1, elsewhere.secret)).statusCode).toBe(201);
      // Another process (the keys command) revokes it through its own repository.
      await new KeyRepository(database.db).revoke(elsewhere.id);
      await new Promise((resolve) => setTimeout(resolve, VERIFIED_KEY_TTL_MS + 100));
      expect((await adjust(id, 1, elsewhere.secret)).statusCode).toBe(401);
      expect(await stockOf(id)).toEqual({ stock: 2, ledger: 2 });
    });

    it('never writes a key to the logs or to an answer', async () => {
      let logs = '';
      const logged = await buildApp({
        config: testConfig({ LOG_LEVEL: 'trace' }),
        database,
        logger: {
          level: 'trace',
          stream: new Writable({
            write(chunk, _encoding, done) {
              logs += chunk;
              done();
            },
          }),
        },
      });
      try {
        const id = await newProduct(1);
        const bodies = [
          await logged.inject({
            method: 'POST',
            url: `/v1/products/${id}/stock-adjustments`,
            headers: auth(writer),
            payload: { delta: 1, reason: 'x' },
          }),
          await logged.inject({
            method: 'POST',
            url: `/v1/products/${id}/stock-adjustments`,
            headers: auth(revoked),
            payload: { delta: 1, reason: 'x' },
          }),
          await logged.inject({ url: `/v1/products/${id}/stock-movements`, headers: auth(writer) }),
        ].map((r) => `${JSON.stringify(r.headers)}${r.body}`);
        expect(logs.length).toBeGreaterThan(0);
        for (const key of [writer, revoked]) {
          const secret = key.slice('cat_12345678_'.length);
          expect(logs).not.toContain(secret);
          for (const body of bodies) expect(body).not.toContain(secret);
        }
      } finally {
        await logged.close();
      }
    });
  });
});
