import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Database } from '../src/db/database.ts';
import { testApp, testDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow, type CategorySlug } from './support/fixtures.ts';

describe('catalogue reads', () => {
  let database: Database;
  let app: App;
  let ids: Record<CategorySlug, number>;
  let running: { id: number; slug: string };

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database);
    ids = await insertTree(database);
    running = (
      await insertProducts(database, [
        productRow({
          categoryId: ids.running,
          slug: 'trail-runner',
          name: 'Trail Runner',
          priceAmount: 8999,
          stock: 3,
        }),
      ])
    )[0]!;
    await insertProducts(database, [
      productRow({ categoryId: ids.hiking, priceAmount: 12000, stock: 0, brand: 'Bolt' }),
      productRow({ categoryId: ids.shirts, priceAmount: 2500 }),
      productRow({ categoryId: ids.kitchen, priceAmount: 4000 }),
      productRow({ categoryId: ids.kitchen, slug: 'hidden-draft', status: 'draft' }),
      productRow({ categoryId: ids.running, slug: 'old-archived', status: 'archived' }),
    ]);
  });

  describe('happy path', () => {
    it('lists active products newest first, with money in minor units', async () => {
      const response = await app.inject('/v1/products');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const body = response.json();
      expect(body.data).toHaveLength(4);
      expect(body.next_cursor).toBeNull();
      expect(body.prev_cursor).toBeNull();
      expect(body.data.map((p: { slug: string }) => p.slug)).not.toContain('hidden-draft');
      const runner = body.data.find((p: { slug: string }) => p.slug === 'trail-runner');
      expect(runner).toMatchObject({ price: { amount: 8999, currency: 'EUR' }, in_stock: true, stock: 3 });
      expect(runner.image.url).toMatch(/^\/media\/placeholder\//);
    });

    it('includes descendants when filtering by a parent category', async () => {
      const shoes = (await app.inject('/v1/products?category=shoes')).json();
      expect(shoes.data.map((p: { category_id: number }) => p.category_id).sort()).toEqual(
        [ids.running, ids.hiking].sort(),
      );
      const apparel = (await app.inject('/v1/products?category=apparel&sort=price_asc')).json();
      expect(apparel.data.map((p: { price: { amount: number } }) => p.price.amount)).toEqual([2500, 8999, 12000]);
    });

    it('filters by brand, price range and stock', async () => {
      const bolt = (await app.inject('/v1/products?brand=Bolt')).json();
      expect(bolt.data).toHaveLength(1);
      const cheap = (await app.inject('/v1/products?min_price=2500&max_price=4000')).json();
      expect(cheap.data.map((p: { price: { amount: number } }) => p.price.amount).sort()).toEqual([2500, 4000]);
      const out = (await app.inject('/v1/products?in_stock=false')).json();
      expect(out.data.map((p: { in_stock: boolean }) => p.in_stock)).toEqual([false]);
    });

    it('sends next and prev links in an RFC 8288 Link header', async () => {
      const first = await app.inject('/v1/products?limit=2&sort=price_asc');
      const body = first.json();
      expect(first.headers.link).toBe(`</v1/products?limit=2&sort=price_asc&cursor=${body.next_cursor}>; rel="next"`);
      const second = await app.inject(`/v1/products?limit=2&sort=price_asc&cursor=${body.next_cursor}`);
      const links = String(second.headers.link);
      expect(links).toContain(`rel="prev"`);
      expect(links).not.toContain(`rel="next"`);
    });

    it('returns one product by id and by slug, with breadcrumbs', async () => {
      const bySlug = await app.inject('/v1/products/trail-runner');
      expect(bySlug.statusCode).toBe(200);
      const product = bySlug.json();
      expect(product).toMatchObject({
        id: running.id,
        name: 'Trail Runner',
        category: { slug: 'running' },
        status: 'active',
        version: 1,
      });
      expect(product.breadcrumbs.map((c: { slug: string }) => c.slug)).toEqual(['apparel', 'shoes', 'running']);
      const byId = await app.inject(`/v1/products/${running.id}`);
      expect(byId.json()).toEqual(product);
      // The list and the detail describe the product alike.
      const listed = (await app.inject('/v1/products?category=running')).json().data[0];
      expect(listed).toEqual({
        id: product.id,
        sku: product.sku,
        slug: product.slug,
        name: product.name,
        brand: product.brand,
        category_id: product.category.id,
        price: product.price,
        image: product.images[0],
        stock: product.stock,
        in_stock: product.in_stock,
        created_at: product.created_at,
        updated_at: product.updated_at,
      });
      expect(listed.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it('lists the category tree depth-first with counts that include descendants', async () => {
      const response = await app.inject('/v1/categories');
      expect(response.statusCode).toBe(200);
      const { data } = response.json();
      expect(data.map((c: { slug: string }) => c.slug)).toEqual([
        'apparel',
        'shoes',
        'running',
        'hiking',
        'shirts',
        'home',
        'kitchen',
      ]);
      const count = Object.fromEntries(
        data.map((c: { slug: string; product_count: number }) => [c.slug, c.product_count]),
      );
      // The draft and the archived products are not counted.
      expect(count).toMatchObject({ apparel: 3, shoes: 2, running: 1, hiking: 1, shirts: 1, home: 1, kitchen: 1 });
      expect(data.find((c: { slug: string }) => c.slug === 'running')).toMatchObject({
        depth: 2,
        parent_id: ids.shoes,
      });
    });
  });

  describe('caching', () => {
    for (const url of ['/v1/products?limit=2', '/v1/products/trail-runner', '/v1/categories']) {
      it(`${url} carries an ETag and Cache-Control, and answers 304 to If-None-Match`, async () => {
        const first = await app.inject(url);
        expect(first.statusCode).toBe(200);
        // A product's tag is its version (strong, what If-Match takes); a list's is a digest (weak).
        expect(first.headers.etag).toMatch(url.startsWith('/v1/products/') ? /^"\d+"$/ : /^W\/".+"$/);
        expect(first.headers['cache-control']).toMatch(/public, max-age=\d+/);
        const again = await app.inject({ url, headers: { 'if-none-match': String(first.headers.etag) } });
        expect(again.statusCode).toBe(304);
        expect(again.body).toBe('');
        const other = await app.inject({ url, headers: { 'if-none-match': 'W/"something-else"' } });
        expect(other.statusCode).toBe(200);
      });
    }
  });

  describe('errors', () => {
    it('answers 404 problem+json for a missing, draft or archived product', async () => {
      for (const key of ['no-such-product', 'hidden-draft', 'old-archived', '999999999', '99999999999999999999999']) {
        const response = await app.inject(`/v1/products/${key}`);
        expect(response.statusCode, key).toBe(404);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.json()).toMatchObject({ status: 404, title: 'Not found' });
      }
    });

    it('answers 404 for an unknown category filter and an unknown route', async () => {
      const category = await app.inject('/v1/products?category=nowhere');
      expect(category.statusCode).toBe(404);
      expect(category.json().detail).toContain('nowhere');
      const route = await app.inject('/v1/nothing-here');
      expect(route.statusCode).toBe(404);
      expect(route.headers['content-type']).toMatch(/^application\/problem\+json/);
    });

    it('echoes a request id, or makes one', async () => {
      const given = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
      expect(given.headers['x-request-id']).toBe('abc-123');
      const made = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id with spaces' } });
      expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });
});
