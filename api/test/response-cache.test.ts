import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Database } from '../src/db/database.ts';
import { products } from '../src/db/schema.ts';
import { testApp, testDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';

describe('the response micro-cache', () => {
  const TTL = 400;
  let database: Database;
  let app: App;
  let productId: number;
  let pages = 0;

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database, { config: { RESPONSE_CACHE_TTL_MS: TTL } });
    const ids = await insertTree(database);
    const [inserted] = await insertProducts(database, [
      productRow({ categoryId: ids.running, slug: 'cached-shoe', stock: 5 }),
    ]);
    productId = inserted!.id;
    // Count the queries that reach the repository.
    const repository = app.catalogue.products;
    const page = repository.page.bind(repository);
    repository.page = async (request) => {
      pages += 1;
      return page(request);
    };
  });

  const setStock = (stock: number) => database.db.update(products).set({ stock }).where(eq(products.id, productId));

  it('answers repeated reads from memory until the TTL, then from the database', async () => {
    const first = (await app.inject('/v1/products/cached-shoe')).json();
    expect(first.stock).toBe(5);
    await setStock(7);
    const cached = await app.inject('/v1/products/cached-shoe');
    expect(cached.json().stock).toBe(5);
    expect(cached.headers.etag).toBeDefined();
    expect(cached.headers['cache-control']).toMatch(/max-age/);
    await new Promise((resolve) => setTimeout(resolve, TTL + 50));
    expect((await app.inject('/v1/products/cached-shoe')).json().stock).toBe(7);
  });

  it('still answers 304 to a matching If-None-Match from the cache', async () => {
    const first = await app.inject('/v1/products?limit=1');
    const again = await app.inject({
      url: '/v1/products?limit=1',
      headers: { 'if-none-match': String(first.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
  });

  it('lets concurrent identical misses share one database query', async () => {
    await new Promise((resolve) => setTimeout(resolve, TTL + 50));
    pages = 0;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => app.inject('/v1/products?limit=2&sort=price_asc')),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(pages).toBe(1);
    // A different query is a different entry.
    await app.inject('/v1/products?limit=3&sort=price_asc');
    expect(pages).toBe(2);
  });

  it('never caches an error', async () => {
    expect((await app.inject('/v1/products/late-arrival')).statusCode).toBe(404);
    const [category] = await database.db.select({ id: products.categoryId }).from(products).limit(1);
    await insertProducts(database, [productRow({ categoryId: category!.id, slug: 'late-arrival' })]);
    expect((await app.inject('/v1/products/late-arrival')).statusCode).toBe(200);
  });

  it('drops answers as they expire, so it holds about one TTL of them', async () => {
    const cache = app.responseCache!;
    for (let i = 1; i <= 20; i++) await app.inject(`/v1/products?limit=${i}`);
    expect(cache.entries()).toBeGreaterThanOrEqual(20);
    expect(cache.bytes()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, TTL + 50));
    // The twenty expired answers (never asked for again) are gone; one new answer is kept.
    await app.inject('/v1/products?limit=21');
    expect(cache.entries()).toBe(1);
  });
});
