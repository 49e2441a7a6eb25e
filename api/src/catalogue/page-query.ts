import type { QueryConfig } from 'pg';
import type { CategoryNode } from './category-tree.ts';
import { SORT_SPECS, type Sort, type SortKey } from './sorts.ts';

/**
 * The SQL of one page of the product list: the hottest query of the API, so it is written out
 * here rather than built by drizzle on every request: building it, then mapping rows through the
 * ORM, is a large share of an uncached request's CPU (docs/performance.md). PostgreSQL formats
 * the timestamps, so no Date is made per row.
 *
 * Most shapes are `planStable`: their best plan is the same index range scan whatever the cursor
 * or the category, so they become named prepared statements on Database.pagePool, parsed and
 * planned once per connection. A brand, a price range or an `updated_after` instant can change
 * the best plan (a rare brand is best read through its own index and sorted, a common one
 * through the sort's index), so those queries go unnamed to the main pool, planned each time for
 * their values.
 *
 * Column names follow api/src/db/schema.ts; the pagination property test compares every shape
 * with an independent SQL query.
 */
export interface ProductFilters {
  /** The category and its descendants. */
  category?: CategoryNode;
  brands?: string[];
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
  updatedAfter?: Date;
}

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Column order of every row (rowMode 'array'): see `SummaryTuple`. */
const SELECT_LIST = [
  'id',
  'sku',
  'slug',
  'name',
  'brand',
  'category_id',
  'price_amount',
  'currency',
  `images -> 0 ->> 'url'`,
  `images -> 0 ->> 'alt'`,
  'stock',
  `${iso('created_at')} AS created_iso`,
  `${iso('updated_at')} AS updated_iso`,
].join(', ');

export type SummaryTuple = [
  /** bigint, read as a number: see the repository's type parser. */
  id: number,
  sku: string,
  slug: string,
  name: string,
  brand: string | null,
  categoryId: number,
  priceAmount: number,
  currency: string,
  imageUrl: string | null,
  imageAlt: string | null,
  stock: number,
  createdAt: string,
  updatedAt: string,
];

/** Beyond this many categories in a subtree, one scan with a filter beats merging per-category scans. */
export const MAX_MERGED_CATEGORIES = 64;

export interface PageQueryInput {
  sort: Sort;
  /** Rows to read: the page size plus one, to learn whether more follow. */
  rows: number;
  filters: ProductFilters;
  /** Read backwards from (before) or forwards from (after) this key. */
  position?: { direction: 'after' | 'before'; key: SortKey };
}

export function pageQuery({
  sort,
  rows,
  filters,
  position,
}: PageQueryInput): QueryConfig & { rowMode: 'array'; planStable: boolean } {
  const spec = SORT_SPECS[sort];
  const scanDescending = spec.descending !== (position?.direction === 'before');
  const values: unknown[] = [];
  const param = (value: unknown, cast: string) => {
    values.push(value);
    return `$${values.length}::${cast}`;
  };
  // A literal, not a parameter: the planner must see it to use the partial (active-only) indexes.
  const where = [`status = 'active'`];
  const { brands, minPrice, maxPrice, inStock, updatedAfter } = filters;
  if (brands?.length === 1) where.push(`brand = ${param(brands[0], 'text')}`);
  else if (brands?.length) where.push(`brand = ANY(${param(brands, 'text[]')})`);
  if (minPrice !== undefined) where.push(`price_amount >= ${param(minPrice, 'integer')}`);
  if (maxPrice !== undefined) where.push(`price_amount <= ${param(maxPrice, 'integer')}`);
  if (inStock !== undefined) where.push(inStock ? 'stock > 0' : 'stock = 0');
  if (updatedAfter) where.push(`updated_at > ${param(updatedAfter.toISOString(), 'timestamptz')}`);
  const planStable = !brands?.length && minPrice === undefined && maxPrice === undefined && !updatedAfter;
  if (position) {
    const [value, id] = position.key;
    const key = spec.cast === 'timestamptz' ? new Date(value as number).toISOString() : value;
    where.push(`(${spec.column}, id) ${scanDescending ? '<' : '>'} (${param(key, spec.cast)}, ${param(id, 'bigint')})`);
  }

  const direction = scanDescending ? 'DESC' : 'ASC';
  // Qualified: an output column of the same name would otherwise win (and sort unindexed text).
  const orderBy = `ORDER BY products.${spec.column} ${direction}, products.id ${direction}`;
  // A literal, not a parameter: planned for an unknown LIMIT, a generic plan sorts the whole
  // table (docs/performance.md). The few page sizes in use make few statements.
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  const limit = String(rows);
  // In a merge, the raw sort value rides along last (ignored when mapping) to order the merge by.
  const scan = (extra?: string, sortValue = false) =>
    `SELECT ${SELECT_LIST}${sortValue ? `, products.${spec.column} AS sort_value` : ''} FROM products WHERE ${[...where, ...(extra ? [extra] : [])].join(' AND ')} ${orderBy} LIMIT ${limit}`;

  const subtree = filters.category?.subtree ?? [];
  let text: string;
  if (subtree.length === 0) {
    text = scan();
  } else if (subtree.length === 1) {
    text = scan(`category_id = ${param(subtree[0], 'integer')}`);
  } else if (subtree.length > MAX_MERGED_CATEGORIES) {
    text = scan(`category_id = ANY(${param(subtree, 'integer[]')})`);
  } else {
    // A category with descendants: one (category, sort column, id) index range scan per category,
    // each stopping after a page, merged. One scan of the sort index filtered by category would
    // read every cheaper product of every other category first (docs/performance.md).
    const branches = subtree.map((id) => `(${scan(`category_id = ${param(id, 'integer')}`, true)})`);
    text = `SELECT * FROM (${branches.join(' UNION ALL ')}) AS merged ORDER BY sort_value ${direction}, id ${direction} LIMIT ${limit}`;
  }
  return planStable
    ? { planStable, name: statementName(text), text, values, rowMode: 'array' }
    : { planStable, text, values, rowMode: 'array' };
}

/**
 * One prepared statement per query shape (the same text with other parameters). The shapes are
 * bounded: sorts x directions x which filters are present x the category subtree sizes.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `products_page_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
}
