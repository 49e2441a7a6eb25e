import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Database } from '../src/db/database.ts';
import { CursorCodec, fingerprint } from '../src/pagination/cursor.ts';
import { TEST_CURSOR_SECRET, testApp, testDatabase } from './support/database.ts';
import { catalogueChecksum, insertProducts, insertTree, productRow } from './support/fixtures.ts';

/** Each bad value answers 400 problem+json naming the parameter, and changes nothing. */
const BAD: [query: string, param: string][] = [
  ['limit=0', 'limit'],
  ['limit=101', 'limit'],
  ['limit=-1', 'limit'],
  ['limit=abc', 'limit'],
  ['limit=1.5', 'limit'],
  ['limit=1e400', 'limit'],
  ['limit=Infinity', 'limit'],
  ['max_price=-Infinity', 'max_price'],
  ['limit=99999999999999999999999', 'limit'],
  // Too many digits for a number: Infinity, which skipped the maximum and reached PostgreSQL (a 500).
  [`max_price=${'9'.repeat(400)}`, 'max_price'],
  ['limit=2&limit=3', 'limit'],
  ['limit=', 'limit'],
  ['sort=cheapest', 'sort'],
  ['sort=price_asc;DROP%20TABLE%20products', 'sort'],
  ['category=%27%3B%20DROP%20TABLE%20products%3B--', 'category'],
  ['category=UPPER', 'category'],
  [`category=${'a'.repeat(5000)}`, 'category'],
  ['min_price=-1', 'min_price'],
  ['min_price=2147483648', 'min_price'],
  ['max_price=cheap', 'max_price'],
  ['min_price=500&max_price=100', 'max_price'],
  ['in_stock=maybe', 'in_stock'],
  ['updated_after=yesterday', 'updated_after'],
  ['updated_after=2026-13-45T99:00:00Z', 'updated_after'],
  [`brand=${Array.from({ length: 21 }, (_, i) => `b${i}`).join('&brand=')}`, 'brand'],
  [`brand=${'x'.repeat(101)}`, 'brand'],
  ['colour=red', 'colour'],
  ['min_price=0x10', 'min_price'],
  ['min_price=%20', 'min_price'],
  ['limit=%2B5', 'limit'],
  ['max_price=1.0', 'max_price'],
  ['brand=%00', 'brand'],
  ['brand=a%00b', 'brand'],
  ['brand=tab%09tab', 'brand'],
  ['cursor=garbage', 'cursor'],
  ['cursor=abc.def', 'cursor'],
  ['cursor=%F0%9F%92%A9.x', 'cursor'],
  [`cursor=${'A'.repeat(2000)}.AAAA`, 'cursor'],
];

describe('GET /v1/products input validation', () => {
  let database: Database;
  let app: App;

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database);
    const ids = await insertTree(database);
    await insertProducts(
      database,
      Array.from({ length: 12 }, (_, i) => productRow({ categoryId: ids.running, priceAmount: i * 100 })),
    );
  });

  async function expectBadRequest(url: string, param: string) {
    const response = await app.inject(url);
    expect(response.statusCode, `${url} → ${response.body}`).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json();
    expect(problem).toMatchObject({ status: 400, title: 'Invalid request' });
    // An array item's error names the item (`brand.0`); the parameter is the first segment.
    expect(
      problem.errors.map((e: { name: string }) => e.name.split('.')[0]),
      url,
    ).toContain(param);
    return problem;
  }

  it.each(BAD.map(([query, param]) => [query.length > 60 ? `${query.slice(0, 60)}…` : query, param, query]))(
    '?%s is refused, naming %s',
    async (_label, param, query) => {
      const before = await catalogueChecksum(database);
      await expectBadRequest(`/v1/products?${query}`, param);
      expect(await catalogueChecksum(database)).toBe(before);
    },
  );

  it('names every failing parameter at once', async () => {
    const problem = await expectBadRequest('/v1/products?limit=0&sort=nope&in_stock=perhaps', 'limit');
    expect(problem.errors.map((e: { name: string }) => e.name).sort()).toEqual(['in_stock', 'limit', 'sort']);
  });

  it('treats SQL-looking text in a free-text filter as plain data', async () => {
    const before = await catalogueChecksum(database);
    const response = await app.inject(`/v1/products?brand=${encodeURIComponent("' OR '1'='1' --")}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual([]);
    expect(await catalogueChecksum(database)).toBe(before);
  });

  describe('cursors', () => {
    async function nextCursor(query: string) {
      const body = (await app.inject(`/v1/products?${query}`)).json();
      expect(body.next_cursor).toEqual(expect.any(String));
      return body.next_cursor as string;
    }

    it('refuses a tampered cursor', async () => {
      const cursor = await nextCursor('limit=5&sort=price_asc');
      const [payload, signature] = cursor.split('.') as [string, string];
      const edited = Buffer.from(
        Buffer.from(payload, 'base64url')
          .toString()
          .replace(/"k":\[(\d+)/, '"k":[$10'),
      ).toString('base64url');
      expect(edited).not.toBe(payload);
      await expectBadRequest(`/v1/products?limit=5&sort=price_asc&cursor=${edited}.${signature}`, 'cursor');
      const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
      await expectBadRequest(`/v1/products?limit=5&sort=price_asc&cursor=${payload}.${flipped}`, 'cursor');
      await expectBadRequest(`/v1/products?limit=5&sort=price_asc&cursor=${cursor.slice(0, -3)}`, 'cursor');
    });

    it('refuses a cursor used with another sort or other filters, but not another limit', async () => {
      const cursor = await nextCursor('limit=5&sort=price_asc');
      await expectBadRequest(`/v1/products?limit=5&sort=price_desc&cursor=${cursor}`, 'cursor');
      await expectBadRequest(`/v1/products?limit=5&sort=price_asc&category=running&cursor=${cursor}`, 'cursor');
      await expectBadRequest(`/v1/products?limit=5&sort=price_asc&in_stock=true&cursor=${cursor}`, 'cursor');
      const otherLimit = await app.inject(`/v1/products?limit=7&sort=price_asc&cursor=${cursor}`);
      expect(otherLimit.statusCode).toBe(200);
      expect(otherLimit.json().data).toHaveLength(7);
    });

    it('refuses a correctly signed cursor whose key does not fit the sort', async () => {
      const codec = new CursorCodec(TEST_CURSOR_SECRET);
      // Same fingerprint recipe as the route: sort, then each filter in order, null when absent.
      const print = fingerprint(['price_asc', null, null, null, null, null, null]);
      const good = codec.encode({ direction: 'after', key: [100, 1] }, print);
      expect((await app.inject(`/v1/products?sort=price_asc&cursor=${good}`)).statusCode).toBe(200);
      for (const key of [['cheap', 1], [100], [100, -1], [100, 1.5], 'x', null, [1e300, 1]]) {
        const cursor = codec.encode({ direction: 'after', key }, print);
        await expectBadRequest(`/v1/products?sort=price_asc&cursor=${cursor}`, 'cursor');
      }
    });
  });

  it('refuses unknown parameters on every catalogue route', async () => {
    for (const url of ['/v1/categories?x=1', '/v1/products/product-1?expand=all']) {
      const response = await app.inject(url);
      expect(response.statusCode, url).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('refuses a path that is not UTF-8, or with a segment longer than any id or slug, with 400 problem+json', async () => {
    for (const path of [
      '/v1/products/%FF',
      '/v1/products/%C3%28',
      '/v1/products/%ED%A0%80',
      `/v1/products/${'a'.repeat(501)}`,
    ]) {
      const response = await app.inject(path);
      expect(response.statusCode, path).toBe(400);
      expect(response.headers['content-type'], path).toMatch(/^application\/problem\+json/);
      expect(response.json(), path).toMatchObject({
        status: 400,
        title: 'Invalid request',
        instance: response.headers['x-request-id'],
      });
    }
  });

  it('refuses a malformed product id or slug with 400', async () => {
    for (const key of ['UPPER', 'under_score', '-leading', 'a'.repeat(201)]) {
      const response = await app.inject(`/v1/products/${key}`);
      expect(response.statusCode, key).toBe(400);
      expect(response.json().errors[0].name).toBe('idOrSlug');
    }
  });
});
