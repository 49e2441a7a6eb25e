import type { Settings } from 'meilisearch';
import type pg from 'pg';

/**
 * What the Meilisearch index holds for a product: what search matches (name, brand, category
 * names, sku, description), filters and sorts on. Hits are read back from PostgreSQL by id when
 * answered (engine.ts), so the index holds no stock level and no image: a stock change that keeps
 * a product in (or out of) stock never touches it (see the outbox triggers, migrations/0006).
 */
export interface ProductDocument {
  id: number;
  sku: string;
  name: string;
  brand: string | null;
  /** Category names, department first. */
  category: string[];
  /** The category and its ancestors, department first: a filter on one finds its descendants. */
  category_ids: number[];
  description: string;
  price_amount: number;
  /** The price facet's bucket (product_price_bucket() in migrations/0005, PRICE_BOUNDS). */
  price_bucket: number;
  currency: string;
  in_stock: boolean;
  /** Milliseconds since the epoch, for the `newest` sort. */
  created_at: number;
}

type Queryable = pg.Pool | pg.ClientBase;

/** Descriptions are indexed up to this length, as in the PostgreSQL engine. */
const DESCRIPTION_CHARS = 4_000;

/**
 * The index's settings, declared here and applied at start-up and on every reindex, so an index
 * is never configured by hand. Ranking is Meilisearch's default order; the searchable attributes'
 * order gives name > brand > category > sku > description, as the PostgreSQL engine's weights.
 */
export const INDEX_SETTINGS = {
  searchableAttributes: ['name', 'brand', 'category', 'sku', 'description'],
  filterableAttributes: [
    'id',
    'category_ids',
    'brand',
    'in_stock',
    'price_bucket',
    {
      attributePatterns: ['price_amount'],
      features: { facetSearch: false, filter: { equality: true, comparison: true } },
    },
  ],
  sortableAttributes: ['created_at', 'price_amount', 'name', 'id'],
  rankingRules: ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness'],
  typoTolerance: {
    enabled: true,
    // As the PostgreSQL engine: one typo from 4 letters, two from 8.
    minWordSizeForTypos: { oneTypo: 4, twoTypos: 8 },
    disableOnAttributes: ['sku'],
  },
  synonyms: {
    tee: ['t-shirt'],
    't-shirt': ['tee'],
    sofa: ['couch'],
    couch: ['sofa'],
    mug: ['cup'],
    cup: ['mug'],
    trainers: ['sneakers'],
    sneakers: ['trainers'],
  },
  // Every category of a level must be counted to show its children's counts, and brands are many.
  faceting: { maxValuesPerFacet: 1_000, sortFacetValuesBy: { '*': 'count' } },
  // As MAX_TOTAL_HITS in the PostgreSQL engine: relevance pages reach the first 1,000 hits.
  pagination: { maxTotalHits: 1_000 },
} satisfies Settings;

/** Category paths, department first, for every category (the tree is small). */
const PATHS = `
  WITH RECURSIVE path AS (
    SELECT id AS category_id, id, parent_id, name, 1 AS depth FROM categories
    UNION ALL
    SELECT path.category_id, c.id, c.parent_id, c.name, path.depth + 1
      FROM categories c JOIN path ON c.id = path.parent_id
  )
  SELECT category_id, array_agg(id ORDER BY depth DESC) AS ids, array_agg(name ORDER BY depth DESC) AS names
    FROM path GROUP BY category_id`;

const DOCUMENT = `
  json_build_object(
    'id', p.id, 'sku', p.sku, 'name', p.name, 'brand', p.brand, 'category', c.names, 'category_ids', c.ids,
    'description', left(p.description, ${DESCRIPTION_CHARS}), 'price_amount', p.price_amount,
    'price_bucket', product_price_bucket(p.price_amount), 'currency', p.currency, 'in_stock', p.stock > 0,
    'created_at', (extract(epoch FROM p.created_at) * 1000)::bigint
  ) AS doc`;

async function read(client: Queryable, condition: string, values: unknown[], limit = ''): Promise<ProductDocument[]> {
  const { rows } = await client.query<{ doc: ProductDocument }>(
    `WITH paths AS (${PATHS})
     SELECT ${DOCUMENT} FROM products p JOIN paths c ON c.category_id = p.category_id
      WHERE ${condition} AND p.status = 'active' ORDER BY p.id ${limit}`,
    values,
  );
  return rows.map((r) => r.doc);
}

/** The documents of those products that are active (the others belong nowhere in the index). */
export const documentsFor = (client: Queryable, ids: number[]) => read(client, 'p.id = ANY($1::bigint[])', [ids]);

/** One page of active products' documents in id order, after `afterId`, up to `lastId` (a reindex's pages). */
export const documentPage = (client: Queryable, afterId: number, lastId: number, limit: number) =>
  read(client, 'p.id > $1 AND p.id <= $2', [afterId, lastId, limit], 'LIMIT $3');

/** The active products with ids in [from, to), as documents (what reconcile compares). */
export const documentsBetween = (client: Queryable, from: number, to: number) =>
  read(client, 'p.id >= $1 AND p.id < $2', [from, to]);
