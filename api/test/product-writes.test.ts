import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Database } from '../src/db/database.ts';
import { testApp, testDatabase } from './support/database.ts';
import { catalogueChecksum, insertTree } from './support/fixtures.ts';

describe('product writes', () => {
  let database: Database;
  let app: App;
  let writer: string;
  let stockOnly: string;
  let serial = 0;

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const newProduct = (overrides: Record<string, unknown> = {}) => {
    serial += 1;
    return {
      sku: `W-${serial}`,
      slug: `written-${serial}`,
      name: `Written product ${serial}`,
      category: 'running',
      price: { amount: 4999, currency: 'EUR' },
      status: 'active',
      ...overrides,
    };
  };
  const create = (payload: object, headers: Record<string, string> = auth(writer)) =>
    app.inject({ method: 'POST', url: '/v1/products', headers, payload });

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database);
    await insertTree(database);
    writer = (await app.keys.create('catalog', ['catalog:write'])).secret;
    stockOnly = (await app.keys.create('stock', ['stock:write'])).secret;
  });

  describe('happy path', () => {
    it('creates a product, with its opening stock in the ledger', async () => {
      const response = await create(newProduct({ stock: 12, brand: 'Acme', attributes: { color: 'red', size: 42 } }));
      expect(response.statusCode).toBe(201);
      const product = response.json();
      expect(product).toMatchObject({ stock: 12, version: 1, category: { slug: 'running' }, brand: 'Acme' });
      expect(response.headers.location).toBe(`/v1/products/${product.id}`);
      expect(response.headers.etag).toBe('"1"');
      expect((await app.inject(`/v1/products/${product.slug}`)).json()).toEqual(product);
      const { rows } = await database.pool.query('SELECT delta, reason FROM stock_movements WHERE product_id = $1', [
        product.id,
      ]);
      expect(rows).toEqual([{ delta: 12, reason: 'opening stock' }]);
    });

    it('drafts by default: not on the storefront until made active', async () => {
      const draft = (await create(newProduct({ status: undefined }))).json();
      expect(draft.status).toBe('draft');
      expect((await app.inject(`/v1/products/${draft.slug}`)).statusCode).toBe(404);
      const active = await app.inject({
        method: 'PATCH',
        url: `/v1/products/${draft.id}`,
        headers: auth(writer),
        payload: { status: 'active' },
      });
      expect(active.json()).toMatchObject({ status: 'active', version: 2 });
      expect((await app.inject(`/v1/products/${draft.slug}`)).statusCode).toBe(200);
    });

    it('changes fields by id or slug, honouring If-Match', async () => {
      const product = (await create(newProduct())).json();
      const renamed = await app.inject({
        method: 'PATCH',
        url: `/v1/products/${product.slug}`,
        headers: { ...auth(writer), 'if-match': '"1"' },
        payload: { name: 'Renamed', price: { amount: 3999, currency: 'EUR' } },
      });
      expect(renamed.statusCode).toBe(200);
      expect(renamed.json()).toMatchObject({ name: 'Renamed', price: { amount: 3999 }, version: 2 });
      expect(renamed.headers.etag).toBe('"2"');
      const stale = await app.inject({
        method: 'PATCH',
        url: `/v1/products/${product.id}`,
        headers: { ...auth(writer), 'if-match': '"1"' },
        payload: { name: 'Lost update' },
      });
      expect(stale.statusCode).toBe(412);
      expect(stale.json()).toMatchObject({ current_version: 2 });
      expect((await app.inject(`/v1/products/${product.id}`)).json().name).toBe('Renamed');
    });

    it('archives on DELETE: gone from the storefront, history kept, and again changes nothing', async () => {
      const product = (await create(newProduct({ stock: 3 }))).json();
      const archived = await app.inject({ method: 'DELETE', url: `/v1/products/${product.id}`, headers: auth(writer) });
      expect(archived.statusCode).toBe(200);
      expect(archived.json()).toMatchObject({ status: 'archived', version: 2, stock: 3 });
      expect((await app.inject(`/v1/products/${product.id}`)).statusCode).toBe(404);
      const list = (await app.inject('/v1/products?limit=100')).json();
      expect(list.data.map((p: { id: number }) => p.id)).not.toContain(product.id);
      const again = await app.inject({ method: 'DELETE', url: `/v1/products/${product.id}`, headers: auth(writer) });
      expect(again.json().version).toBe(2);
    });

    it('keeps attributes as sent: numbers and booleans stay numbers and booleans, and a name with a line separator is answered', async () => {
      const attributes = {
        size: 42,
        weight_kg: 1.5,
        waterproof: true,
        recycled: false,
        colour: 'red',
        code: '42',
        'line\u2028separated': 'kept',
      };
      const created = await create(newProduct({ attributes }));
      expect(created.statusCode).toBe(201);
      expect(created.json().attributes).toEqual(attributes);
      const changed = await app.inject({
        method: 'PATCH',
        url: `/v1/products/${created.json().id}`,
        headers: auth(writer),
        payload: { attributes: { ...attributes, size: 43.5, waterproof: false } },
      });
      expect(changed.json().attributes).toEqual({ ...attributes, size: 43.5, waterproof: false });
      expect((await app.inject(`/v1/products/${created.json().id}`)).json().attributes).toMatchObject({ size: 43.5 });
    });

    it('creates once for retries with one Idempotency-Key', async () => {
      const payload = newProduct();
      const headers = { ...auth(writer), 'idempotency-key': `create-${payload.sku}` };
      const answers = await Promise.all(Array.from({ length: 10 }, () => create(payload, headers)));
      expect(new Set(answers.map((a) => a.statusCode))).toEqual(new Set([201]));
      expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    });
  });

  describe('errors', () => {
    it('answers 409 naming the field when the sku or the slug is taken', async () => {
      const taken = newProduct();
      expect((await create(taken)).statusCode).toBe(201);
      for (const [field, payload] of [
        ['sku', newProduct({ sku: taken.sku })],
        ['slug', newProduct({ slug: taken.slug })],
      ] as const) {
        const response = await create(payload);
        expect(response.statusCode, field).toBe(409);
        expect(response.json().errors).toEqual([{ in: 'body', name: field, detail: 'is already taken' }]);
      }
      const other = (await create(newProduct())).json();
      const clash = await app.inject({
        method: 'PATCH',
        url: `/v1/products/${other.id}`,
        headers: auth(writer),
        payload: { slug: taken.slug },
      });
      expect(clash.statusCode).toBe(409);
    });

    it('refuses bad bodies with 400 naming the field, changing nothing', async () => {
      const before = await catalogueChecksum(database);
      const cases: [Record<string, unknown>, string][] = [
        [newProduct({ slug: '12345' }), 'slug'],
        [newProduct({ slug: 'Has Spaces' }), 'slug'],
        [newProduct({ sku: '' }), 'sku'],
        [newProduct({ name: 'tab\there' }), 'name'],
        [newProduct({ price: { amount: -1, currency: 'EUR' } }), 'price'],
        [newProduct({ price: { amount: 100, currency: 'euro' } }), 'price'],
        [newProduct({ category: 'nowhere' }), 'category'],
        [newProduct({ stock: -5 }), 'stock'],
        [newProduct({ images: [{ url: 'javascript:alert(1)', alt: '' }] }), 'images'],
        [newProduct({ colour: 'red' }), 'colour'],
        [newProduct({ status: 'deleted' }), 'status'],
      ];
      for (const [payload, field] of cases) {
        const response = await create(payload);
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
        expect(
          response.json().errors.map((e: { name: string }) => e.name.split('.')[0]),
          field,
        ).toContain(field);
      }
      const empty = await app.inject({ method: 'PATCH', url: '/v1/products/1', headers: auth(writer), payload: {} });
      expect(empty.statusCode).toBe(400);
      const stock = await app.inject({
        method: 'PATCH',
        url: '/v1/products/1',
        headers: auth(writer),
        payload: { stock: 5 },
      });
      expect(stock.statusCode).toBe(400);
      const notJson = await app.inject({
        method: 'POST',
        url: '/v1/products',
        headers: { ...auth(writer), 'content-type': 'application/json' },
        payload: '{"sku": ',
      });
      expect(notJson.statusCode).toBe(400);
      expect(notJson.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('refuses a value of another type (never coerced), a bad attribute name, a control character or a lone surrogate, changing nothing', async () => {
      const before = await catalogueChecksum(database);
      const cases: [Record<string, unknown>, string][] = [
        // Types as sent: no text to a number, "" to null, or number to text.
        [newProduct({ price: { amount: '4999', currency: 'EUR' } }), 'price'],
        [newProduct({ brand: '' }), 'brand'],
        [newProduct({ name: 42 }), 'name'],
        [newProduct({ stock: '3' }), 'stock'],
        // Attribute names as their schema says: printable, 1 to 64 characters.
        [newProduct({ attributes: { 'nul\u0000': 1 } }), 'attributes'],
        [newProduct({ attributes: { 'two\nlines': 1 } }), 'attributes'],
        [newProduct({ attributes: { '': 1 } }), 'attributes'],
        [newProduct({ attributes: { ['x'.repeat(65)]: 1 } }), 'attributes'],
        // No control characters in an image URL, no lone surrogates in text (PostgreSQL stores neither).
        [newProduct({ images: [{ url: '/media/a\u0000.svg', alt: '' }] }), 'images'],
        [newProduct({ images: [{ url: '/media/a.svg', alt: 'half \ud800 a pair' }] }), 'images'],
        [newProduct({ attributes: { colour: 'red\udc00' } }), 'attributes'],
        [newProduct({ name: 'lone \ud800' }), 'name'],
      ];
      for (const [payload, field] of cases) {
        const response = await create(payload);
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(
          response.json().errors.map((e: { name: string }) => e.name.split('.')[0]),
          JSON.stringify(payload),
        ).toContain(field);
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('refuses a query parameter a product write does not take (400), changing nothing', async () => {
      const product = (await create(newProduct())).json();
      const before = await catalogueChecksum(database);
      for (const [method, url, payload] of [
        ['POST', '/v1/products?publish=true', newProduct()],
        ['PATCH', `/v1/products/${product.id}?notify=false`, { name: 'Renamed' }],
        ['DELETE', `/v1/products/${product.id}?hard=true`, undefined],
      ] as const) {
        const response = await app.inject({ method, url, headers: auth(writer), payload });
        expect(response.statusCode, url).toBe(400);
        expect(response.json().errors[0]).toMatchObject({ in: 'query', detail: 'is not a known parameter' });
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('answers 404 for a missing product', async () => {
      for (const method of ['PATCH', 'DELETE'] as const) {
        const response = await app.inject({
          method,
          url: '/v1/products/no-such-product',
          headers: auth(writer),
          ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}),
        });
        expect(response.statusCode, method).toBe(404);
      }
    });
  });

  describe('security', () => {
    it('answers 401 or 403 to every product write without the right key, changing nothing', async () => {
      const product = (await create(newProduct())).json();
      const before = await catalogueChecksum(database);
      const routes = [
        { method: 'POST' as const, url: '/v1/products', payload: newProduct() },
        { method: 'PATCH' as const, url: `/v1/products/${product.id}`, payload: { name: 'Hijacked' } },
        { method: 'DELETE' as const, url: `/v1/products/${product.id}` },
      ];
      for (const route of routes) {
        for (const [headers, status] of [
          [{}, 401],
          [auth('cat_nope'), 401],
          [auth(stockOnly), 403],
        ] as const) {
          const response = await app.inject({ ...route, headers });
          expect(response.statusCode, `${route.method} ${route.url}`).toBe(status);
        }
      }
      expect(await catalogueChecksum(database)).toBe(before);
    });
  });
});
