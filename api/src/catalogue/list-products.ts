import { invalidParam, notFound } from '../http/problem.ts';
import { fingerprint, type CursorCodec } from '../pagination/cursor.ts';
import type { CategoryRepository } from './category-tree.ts';
import type { ProductFilters } from './page-query.ts';
import type { ProductRepository } from './products-repository.ts';
import { DEFAULT_LIMIT, type ListProductsQuery, type ProductSummary } from './schemas.ts';
import { DEFAULT_SORT, parseSortKey, sortKeyOf } from './sorts.ts';

export interface ProductListing {
  data: ProductSummary[];
  next_cursor: string | null;
  prev_cursor: string | null;
}

/**
 * One page of the product list: resolves the filters, checks the cursor against them, reads the
 * page and issues the cursors of its neighbours.
 */
export async function listProducts(
  query: ListProductsQuery,
  {
    products,
    categories,
    cursors,
  }: { products: ProductRepository; categories: CategoryRepository; cursors: CursorCodec },
): Promise<ProductListing> {
  // Validation has filled in the defaults; the type says optional because the contract does.
  const { limit = DEFAULT_LIMIT, sort = DEFAULT_SORT, ...q } = query;
  if (q.min_price !== undefined && q.max_price !== undefined && q.min_price > q.max_price) {
    throw invalidParam({ in: 'query', name: 'max_price', detail: 'must be at least min_price' });
  }
  const category = q.category === undefined ? undefined : (await categories.tree()).bySlug.get(q.category);
  if (q.category !== undefined && !category) throw notFound(`No category with slug '${q.category}'`);
  const filters: ProductFilters = {
    category,
    brands: q.brand && [...new Set(q.brand)].sort(),
    minPrice: q.min_price,
    maxPrice: q.max_price,
    inStock: q.in_stock,
    updatedAfter: q.updated_after === undefined ? undefined : new Date(q.updated_after),
  };
  // What a cursor is bound to: the sort and every filter, normalised (not the page size).
  const queryPrint = fingerprint([
    sort,
    q.category ?? null,
    filters.brands ?? null,
    q.min_price ?? null,
    q.max_price ?? null,
    q.in_stock ?? null,
    filters.updatedAfter?.toISOString() ?? null,
  ]);
  const position = q.cursor ? cursors.decode(q.cursor, queryPrint, (key) => parseSortKey(sort, key)) : undefined;

  const { rows, more } = await products.page({ sort, limit, filters, position });

  // Boundary keys: the first and last rows, or the cursor's own key when the page is empty.
  const first = rows[0] ? sortKeyOf(sort, rows[0]) : position?.key;
  const last = rows.at(-1) ? sortKeyOf(sort, rows.at(-1)!) : position?.key;
  const backward = position?.direction === 'before';
  const hasNext = backward ? last !== undefined : more;
  const hasPrev = backward ? more : position !== undefined;
  return {
    data: rows,
    next_cursor: hasNext && last ? cursors.encode({ direction: 'after', key: last }, queryPrint) : null,
    prev_cursor: hasPrev && first ? cursors.encode({ direction: 'before', key: first }, queryPrint) : null,
  };
}
