import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Database } from '../src/db/database.ts';
import { SORTS, type Sort } from '../src/catalogue/sorts.ts';
import { testApp, testDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow, TREE, type CategorySlug } from './support/fixtures.ts';

/**
 * Keyset pagination as a property: for random catalogues full of ties (equal prices, names,
 * timestamps) and random filter/sort combinations, walking every page forward visits each
 * matching product exactly once and in order; walking back returns the same pages; and products
 * inserted during a walk never make an existing one skipped or repeated.
 *
 * The expected order comes from a plain SQL query written here, independently of the API's code.
 */
const ORDER_SQL: Record<Sort, string> = {
  newest: 'created_at DESC, id DESC',
  price_asc: 'price_amount ASC, id ASC',
  price_desc: 'price_amount DESC, id DESC',
  name_asc: 'name ASC, id ASC',
  updated: 'updated_at ASC, id ASC',
};

const BASE = Date.parse('2026-01-01T00:00:00.000Z');

interface Query {
  sort: Sort;
  limit: number;
  category?: CategorySlug;
  brand?: string[];
  min_price?: number;
  max_price?: number;
  in_stock?: boolean;
}

const productArb = fc.record({
  priceAmount: fc.constantFrom(0, 100, 200, 300, 999),
  name: fc.constantFrom('Alpha', 'Beta', 'beta', 'Gamma', 'Ωmega', 'Élan'),
  brand: fc.constantFrom('Acme', 'Bolt', 'Corto', null),
  category: fc.constantFrom<CategorySlug>('running', 'hiking', 'shirts', 'kitchen', 'apparel', 'shoes'),
  stock: fc.nat(3),
  status: fc.constantFrom('active', 'active', 'active', 'active', 'draft', 'archived') as fc.Arbitrary<
    'active' | 'draft' | 'archived'
  >,
  createdHour: fc.nat(6),
  updatedHour: fc.nat(6),
});

type ProductSpec = typeof productArb extends fc.Arbitrary<infer T> ? T : never;

const queryArb: fc.Arbitrary<Query> = fc
  .record(
    {
      sort: fc.constantFrom(...SORTS),
      limit: fc.integer({ min: 1, max: 9 }),
      category: fc.constantFrom(...TREE.map((n) => n.slug)),
      brand: fc.subarray(['Acme', 'Bolt', 'Corto', 'Nobody'], { minLength: 1 }),
      min_price: fc.constantFrom(0, 100, 250),
      max_price: fc.constantFrom(200, 300, 999),
      in_stock: fc.boolean(),
    },
    { requiredKeys: ['sort', 'limit'] },
  )
  .filter((q) => q.min_price === undefined || q.max_price === undefined || q.min_price <= q.max_price);

function toSearch(query: Query, cursor?: string | null): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else if (value !== undefined) params.set(key, String(value));
  }
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

describe('GET /v1/products keyset pagination (property)', () => {
  let database: Database;
  let app: App;
  let categoryIds: Record<CategorySlug, number>;

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database);
    categoryIds = await insertTree(database);
  });

  const toRow = (r: ProductSpec) =>
    productRow({
      priceAmount: r.priceAmount,
      name: r.name,
      brand: r.brand,
      categoryId: categoryIds[r.category],
      stock: r.stock,
      status: r.status,
      createdAt: new Date(BASE + r.createdHour * 3_600_000),
      updatedAt: new Date(BASE + r.updatedHour * 3_600_000),
    });

  async function load(rows: ProductSpec[]) {
    await database.db.execute(sql`TRUNCATE products, product_search, stock_movements RESTART IDENTITY`);
    await insertProducts(database, rows.map(toRow));
  }

  /** The ids the query must return, in order, straight from SQL. */
  async function expectedIds(query: Query): Promise<number[]> {
    const where = [`status = 'active'`];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.category) {
      where.push(`category_id IN (
        WITH RECURSIVE sub(id) AS (SELECT id FROM categories WHERE slug = ${param(query.category)}
          UNION ALL SELECT c.id FROM categories c JOIN sub ON c.parent_id = sub.id)
        SELECT id FROM sub)`);
    }
    if (query.brand) where.push(`brand = ANY(${param(query.brand)})`);
    if (query.min_price !== undefined) where.push(`price_amount >= ${param(query.min_price)}`);
    if (query.max_price !== undefined) where.push(`price_amount <= ${param(query.max_price)}`);
    if (query.in_stock !== undefined) where.push(query.in_stock ? 'stock > 0' : 'stock = 0');
    const { rows } = await database.pool.query<{ id: string }>(
      `SELECT id FROM products WHERE ${where.join(' AND ')} ORDER BY ${ORDER_SQL[query.sort]}`,
      params,
    );
    return rows.map((r) => Number(r.id));
  }

  async function page(query: Query, cursor?: string | null) {
    const response = await app.inject({ method: 'GET', url: `/v1/products?${toSearch(query, cursor)}` });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ data: { id: number }[]; next_cursor: string | null; prev_cursor: string | null }>();
  }

  it('visits every matching product once, in order, forward and back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(productArb, { maxLength: 60 }), queryArb, async (rows, query) => {
        await load(rows);
        const expected = await expectedIds(query);
        const maxPages = Math.ceil(expected.length / query.limit) + 1;

        const forward: number[][] = [];
        let current = await page(query);
        expect(current.prev_cursor).toBeNull();
        forward.push(current.data.map((p) => p.id));
        const cursors = [current];
        while (current.next_cursor) {
          expect(forward.length).toBeLessThanOrEqual(maxPages);
          current = await page(query, current.next_cursor);
          forward.push(current.data.map((p) => p.id));
          cursors.push(current);
        }
        expect(forward.flat()).toEqual(expected);
        // Keyset pages are full but for the last one, which is never empty unless the result is.
        for (const ids of forward.slice(0, -1)) expect(ids).toHaveLength(query.limit);
        if (expected.length > 0) expect(forward.at(-1)!.length).toBeGreaterThan(0);

        // Back from the last page, following prev_cursor: the same pages in reverse.
        const backward: number[][] = [];
        let back = cursors.at(-1)!;
        while (back.prev_cursor) {
          back = await page(query, back.prev_cursor);
          backward.unshift(back.data.map((p) => p.id));
          expect(backward.length).toBeLessThanOrEqual(maxPages);
        }
        expect(backward).toEqual(forward.slice(0, -1));
        if (backward.length > 0) expect(back.prev_cursor).toBeNull();
      }),
      { numRuns: 60, seed: 20261126 },
    );
  });

  it('never skips or repeats an existing product when products are inserted during the walk', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(productArb, { minLength: 1, maxLength: 40 }),
        queryArb,
        fc.array(fc.array(productArb, { maxLength: 4 }), { minLength: 1, maxLength: 30 }),
        async (rows, query, insertsPerPage) => {
          await load(rows);
          const before = await expectedIds(query);
          const seen: number[] = [];
          let current = await page(query);
          seen.push(...current.data.map((p) => p.id));
          let step = 0;
          while (current.next_cursor) {
            const batch = insertsPerPage[step % insertsPerPage.length]!;
            step += 1;
            await insertProducts(database, batch.map(toRow));
            current = await page(query, current.next_cursor);
            seen.push(...current.data.map((p) => p.id));
            expect(step).toBeLessThan(500);
          }
          expect(new Set(seen).size).toBe(seen.length);
          const seenExisting = seen.filter((id) => before.includes(id));
          expect(seenExisting).toEqual(before);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });
});
