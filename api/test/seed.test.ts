import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { generateCategories, generateProducts, REFERENCE_DATE } from '../src/seed/generator.ts';
import type { Database } from '../src/db/database.ts';
import { testDatabase } from './support/database.ts';
import { CatalogueNotEmptyError, copyText, REBUILD_INDEXES_FROM, seedCatalogue } from '../src/seed/load.ts';

const products = (count: number, seed?: number) => [...generateProducts({ count, seed })];
const URL_SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** A new, migrated database on the run's test server. */
const freshDatabase = testDatabase;

describe('generateCategories', () => {
  const tree = generateCategories();

  it('is a tree of 50+ categories, 3+ levels deep, every parent listed before its children', () => {
    const depth = new Map<string, number>();
    for (const category of tree) {
      expect(category.slug).toMatch(URL_SLUG);
      expect(category.slug).toMatch(/[a-z]/);
      expect(depth.has(category.slug)).toBe(false);
      const parentDepth = category.parentSlug === null ? 0 : depth.get(category.parentSlug);
      expect(parentDepth, `parent of ${category.slug}`).toBeDefined();
      depth.set(category.slug, parentDepth! + 1);
    }
    expect(tree.length).toBeGreaterThanOrEqual(50);
    expect(Math.max(...depth.values())).toBeGreaterThanOrEqual(3);
  });
});

describe('generateProducts', () => {
  it('gives the same rows for a seed, other rows for another, and a shorter run is a prefix', () => {
    const first = products(2_000);
    expect(JSON.stringify(products(2_000))).toBe(JSON.stringify(first));
    expect(JSON.stringify(products(500))).toBe(JSON.stringify(first.slice(0, 500)));
    const other = products(2_000, 7);
    expect(other.map((row) => row.name)).not.toEqual(first.map((row) => row.name));
  });

  describe('over 20,000 products', () => {
    const rows = products(20_000);
    const leaves = new Set(generateCategories().map((category) => category.slug));
    for (const category of generateCategories()) if (category.parentSlug) leaves.delete(category.parentSlug);

    it('has unique SKUs and unique URL-safe slugs containing a letter', () => {
      expect(new Set(rows.map((row) => row.sku)).size).toBe(rows.length);
      expect(new Set(rows.map((row) => row.slug)).size).toBe(rows.length);
      for (const { slug } of rows) {
        expect(slug).toMatch(URL_SLUG);
        expect(slug).toMatch(/[a-z]/);
        expect(slug.length).toBeLessThanOrEqual(120);
      }
    });

    it('looks like a real catalogue: sold-out, non-active, unbranded products, shared prices and names', () => {
      const share = (predicate: (row: (typeof rows)[number]) => boolean) => rows.filter(predicate).length / rows.length;
      expect(share((row) => row.stock === 0)).toBeGreaterThan(0.05);
      expect(share((row) => row.status === 'draft')).toBeGreaterThan(0.01);
      expect(share((row) => row.status === 'archived')).toBeGreaterThan(0.01);
      expect(share((row) => row.brand === null)).toBeGreaterThan(0.005);
      // Ties are what keyset pagination must break by id.
      expect(new Set(rows.map((row) => row.priceAmount)).size).toBeLessThan(rows.length / 20);
      expect(new Set(rows.map((row) => row.name)).size).toBeLessThan(rows.length * 0.8);
      const perCategory = new Map<string, number>();
      for (const { categorySlug } of rows) perCategory.set(categorySlug, (perCategory.get(categorySlug) ?? 0) + 1);
      const sizes = [...perCategory.values()];
      expect(Math.max(...sizes)).toBeGreaterThan(5 * Math.min(...sizes));
    });

    it('keeps every field in its domain', () => {
      const earliest = REFERENCE_DATE.getTime() - 2 * 366 * 24 * 60 * 60 * 1000;
      const image = /^\/media\/placeholder\/[a-z0-9-]{1,64}\.svg$/;
      const outOfDomain = rows.filter(
        (row) =>
          !leaves.has(row.categorySlug) ||
          !Number.isInteger(row.priceAmount) ||
          row.priceAmount <= 0 ||
          ![99, 0, 50].includes(row.priceAmount % 100) ||
          row.currency !== 'EUR' ||
          !(row.stock >= 0 && row.stock <= 500) ||
          !(row.images.length >= 1 && row.images.length <= 3) ||
          !row.images.every((img) => image.test(img.url) && img.alt.startsWith(row.name)) ||
          Object.keys(row.attributes).length === 0 ||
          !(row.createdAt.getTime() > earliest && row.createdAt < REFERENCE_DATE),
      );
      expect(outOfDomain).toEqual([]);
    });
  });
});

describe('copyText', () => {
  it('survives a COPY round trip with backslashes, tabs, newlines and carriage returns', async () => {
    const database = await freshDatabase();
    const values = ['a\\b', 'tab\there', 'line\nbreak', 'cr\r\nlf', '\\N', '\\\\t', 'ünï © 😀', '{"a":"x\\"y"}'];
    const client = await database.pool.connect();
    try {
      await client.query('CREATE TEMP TABLE t (position int, value text)');
      const lines = values.map((value, position) => `${position}\t${copyText(value)}\n`).join('');
      await pipeline([lines], client.query(copyFrom('COPY t (position, value) FROM STDIN')));
      const { rows } = await client.query<{ value: string }>('SELECT value FROM t ORDER BY position');
      expect(rows.map((row) => row.value)).toEqual(values);
    } finally {
      client.release();
    }
  });
});

describe('seedCatalogue', () => {
  /** Every catalogue row as text: equal digests, nothing changed. */
  async function digest(database: Database): Promise<string> {
    const { rows } = await database.pool.query<{ digest: string }>(
      `SELECT md5(coalesce(string_agg(t, '|' ORDER BY t), '')) AS digest
         FROM (SELECT p::text FROM products p UNION ALL SELECT c::text FROM categories c) x(t)`,
    );
    return rows[0]!.digest;
  }

  async function indexDefinitions(database: Database): Promise<string[]> {
    const { rows } = await database.pool.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE tablename IN ('products', 'categories') ORDER BY indexname`,
    );
    return rows.map((row) => row.indexdef);
  }

  it(
    'loads 5,000 products exactly as generated, then refuses a second load and changes nothing',
    { timeout: 60_000 },
    async () => {
      const database = await freshDatabase();
      const progress: number[] = [];
      const result = await seedCatalogue(database.pool, { products: 5_000, onProgress: (done) => progress.push(done) });
      expect(result).toMatchObject({ categories: generateCategories().length, products: 5_000 });
      expect(progress.at(-1)).toBe(5_000);

      const { rows: counts } = await database.pool.query<{ products: number; categories: number }>(
        `SELECT (SELECT count(*)::int FROM products) AS products, (SELECT count(*)::int FROM categories) AS categories`,
      );
      expect(counts[0]).toEqual({ products: 5_000, categories: generateCategories().length });

      const { rows: violations } = await database.pool.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM products
        WHERE stock < 0 OR price_amount < 0 OR currency !~ '^[A-Z]{3}$' OR updated_at <> created_at
           OR EXISTS (SELECT 1 FROM categories c WHERE c.parent_id = products.category_id)`,
      );
      expect(violations[0]!.count).toBe(0);

      const { rows: stored } = await database.pool.query(
        `SELECT p.sku, p.slug, p.name, p.description, p.brand, c.slug AS "categorySlug",
                p.price_amount AS "priceAmount", p.currency, p.images, p.attributes, p.status, p.stock,
                p.created_at AS "createdAt"
           FROM products p JOIN categories c ON c.id = p.category_id ORDER BY p.id`,
      );
      expect(stored).toEqual(products(5_000));

      const before = await digest(database);
      await expect(seedCatalogue(database.pool, { products: 10 })).rejects.toThrow(CatalogueNotEmptyError);
      expect(await digest(database)).toBe(before);
    },
  );

  it('rebuilds the indexes it drops for a large load exactly as they were', { timeout: 120_000 }, async () => {
    const database = await freshDatabase();
    const before = await indexDefinitions(database);
    await seedCatalogue(database.pool, { products: REBUILD_INDEXES_FROM });
    expect(await indexDefinitions(database)).toEqual(before);
  });

  it('leaves nothing behind, indexes included, when a large load fails midway', { timeout: 60_000 }, async () => {
    const database = await freshDatabase();
    const before = await indexDefinitions(database);
    const failAt10000 = (done: number) => {
      if (done >= 10_000) throw new Error('interrupted');
    };
    await expect(
      seedCatalogue(database.pool, { products: REBUILD_INDEXES_FROM * 2, onProgress: failAt10000 }),
    ).rejects.toThrow('interrupted');
    const { rows } = await database.pool.query<{ count: number }>(
      'SELECT (SELECT count(*) FROM products) + (SELECT count(*) FROM categories) AS count',
    );
    expect(Number(rows[0]!.count)).toBe(0);
    expect(await indexDefinitions(database)).toEqual(before);
  });
});
