import type { Database } from '../../src/db/database.ts';
import { categories, products, type NewProductRow } from '../../src/db/schema.ts';

/**
 * A small fixed tree: three levels, so "a category includes its descendants" is exercised.
 *   apparel > shoes > (running, hiking); apparel > shirts; home > kitchen
 */
export const TREE = [
  { slug: 'apparel', name: 'Apparel', parent: null },
  { slug: 'shoes', name: 'Shoes', parent: 'apparel' },
  { slug: 'running', name: 'Running', parent: 'shoes' },
  { slug: 'hiking', name: 'Hiking', parent: 'shoes' },
  { slug: 'shirts', name: 'Shirts', parent: 'apparel' },
  { slug: 'home', name: 'Home', parent: null },
  { slug: 'kitchen', name: 'Kitchen', parent: 'home' },
] as const;

export type CategorySlug = (typeof TREE)[number]['slug'];

/** Inserts TREE; returns slug → id. */
export async function insertTree(database: Database): Promise<Record<CategorySlug, number>> {
  const ids = {} as Record<CategorySlug, number>;
  for (const [position, node] of TREE.entries()) {
    const [row] = await database.db
      .insert(categories)
      .values({ slug: node.slug, name: node.name, parentId: node.parent ? ids[node.parent] : null, position })
      .returning({ id: categories.id });
    ids[node.slug] = row!.id;
  }
  return ids;
}

let serial = 0;

/** A product row with sensible defaults; override what the test is about. */
export function productRow(overrides: Partial<NewProductRow> & { categoryId: number }): NewProductRow {
  serial += 1;
  return {
    sku: `SKU-${serial}`,
    slug: `product-${serial}`,
    name: `Product ${serial}`,
    description: 'A product.',
    brand: 'Acme',
    priceAmount: 1000,
    currency: 'EUR',
    images: [{ url: `/media/placeholder/p${serial}.svg`, alt: `Product ${serial}` }],
    attributes: { color: 'red' },
    status: 'active',
    stock: 5,
    ...overrides,
  };
}

export async function insertProducts(database: Database, rows: NewProductRow[]) {
  if (rows.length === 0) return [];
  return database.db.insert(products).values(rows).returning({ id: products.id, slug: products.slug });
}

/** A digest of every catalogue row: equal before and after means nothing changed. */
export async function catalogueChecksum(database: Database): Promise<string> {
  const { rows } = await database.pool.query<{ digest: string }>(
    `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest
       FROM (SELECT p::text AS t FROM products p UNION ALL SELECT c::text FROM categories c) x(t)`,
  );
  return rows[0]!.digest;
}
