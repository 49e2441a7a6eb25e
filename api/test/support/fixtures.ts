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

/**
 * A digest of every row a request can write: the catalogue, the stock ledger, stored idempotent
 * answers, the search outbox, and the API keys. Equal before and after means nothing changed.
 * Left out: an API key's `last_used_at`, which any request made with the key may move (at most
 * once a minute), and the search index tables (`product_search`, `search_words`,
 * `search_vocabulary`), which triggers derive from the products and a background refresh rebuilds.
 * `except: ['idempotency_keys']` leaves out stored answers too, for a refusal that is kept by design.
 */
export async function catalogueChecksum(
  database: Database,
  { except = [] }: { except?: 'idempotency_keys'[] } = {},
): Promise<string> {
  const idempotency = except.includes('idempotency_keys')
    ? ''
    : `UNION ALL SELECT 'i' || i::text FROM idempotency_keys i`;
  const { rows } = await database.pool.query<{ digest: string }>(
    `SELECT md5(coalesce(string_agg(t, '|' ORDER BY t), '')) AS digest
       FROM (SELECT 'p' || p::text FROM products p
             UNION ALL SELECT 'c' || c::text FROM categories c
             UNION ALL SELECT 'm' || m::text FROM stock_movements m
             ${idempotency}
             UNION ALL SELECT 'o' || o::text FROM search_outbox o
             UNION ALL SELECT 'k' || row(k.id, k.name, k.prefix, k.secret_hash, k.scopes, k.created_at, k.revoked_at)::text
                 FROM api_keys k) x(t)`,
  );
  return rows[0]!.digest;
}
