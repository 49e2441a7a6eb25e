import { and, eq } from 'drizzle-orm';
import pg from 'pg';
import type { Database, Db } from '../db/database.ts';
import { categories, products } from '../db/schema.ts';
import type { CursorPosition } from '../pagination/cursor.ts';
import type { CategoryTree } from './category-tree.ts';
import { pageQuery, type ProductFilters, type SummaryTuple } from './page-query.ts';
import type { Product, ProductSummary } from './schemas.ts';
import type { Sort, SortKey } from './sorts.ts';

/** Ids are bigint; every catalogue id fits a JS number (below 2^53). */
const PARSE_INT8_AS_NUMBER = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? Number
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function tupleToSummary(row: SummaryTuple): ProductSummary {
  const [id, sku, slug, name, brand, categoryId, amount, currency, imageUrl, imageAlt, stock, createdAt, updatedAt] =
    row;
  return {
    id,
    sku,
    slug,
    name,
    brand,
    category_id: categoryId,
    price: { amount, currency },
    image: imageUrl === null ? null : { url: imageUrl, alt: imageAlt ?? '' },
    stock,
    in_stock: stock > 0,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

export interface PageRequest {
  sort: Sort;
  limit: number;
  filters: ProductFilters;
  position?: CursorPosition<SortKey>;
}

export interface PageResult {
  rows: ProductSummary[];
  /** Whether rows exist beyond this page in the direction it was read. */
  more: boolean;
}

export class ProductRepository {
  readonly #db: Db;
  readonly #pool: pg.Pool;
  readonly #pagePool: pg.Pool;

  constructor({ db, pool, pagePool }: Pick<Database, 'db' | 'pool' | 'pagePool'>) {
    this.#db = db;
    this.#pool = pool;
    this.#pagePool = pagePool;
  }

  /**
   * One page by keyset: `WHERE (sort_column, id) > (key) ORDER BY sort_column, id LIMIT n + 1`,
   * an index range scan that costs the same at any depth. A page before a cursor is read in
   * reverse order and turned around. See page-query.ts for the SQL.
   */
  async page({ sort, limit, filters, position }: PageRequest): Promise<PageResult> {
    const { planStable, ...query } = pageQuery({ sort, rows: limit + 1, filters, position });
    const pool = planStable ? this.#pagePool : this.#pool;
    const result = await pool.query<SummaryTuple>({ ...query, types: PARSE_INT8_AS_NUMBER });
    const more = result.rows.length > limit;
    const page = result.rows.slice(0, limit).map(tupleToSummary);
    if (position?.direction === 'before') page.reverse();
    return { rows: page, more };
  }

  /** An active product by id or slug (slugs always hold a letter, so digits alone are an id). */
  async findActive(idOrSlug: string, tree: CategoryTree): Promise<Product | undefined> {
    return this.find(idOrSlug, tree, { activeOnly: true });
  }

  /** A product by id or slug, of any status unless `activeOnly`; reads through `tx` when given. */
  async find(
    idOrSlug: string | number,
    tree: CategoryTree,
    { activeOnly = false, tx = this.#db }: { activeOnly?: boolean; tx?: Pick<Db, 'select'> } = {},
  ): Promise<Product | undefined> {
    const key = String(idOrSlug);
    const byId = /^\d+$/.test(key);
    // Past bigint's range no product can match; asking would be a database error.
    if (byId && (key.length > 18 || !Number.isSafeInteger(Number(key)))) return undefined;
    const [found] = await tx
      .select({ product: products, category: { id: categories.id, slug: categories.slug, name: categories.name } })
      .from(products)
      .innerJoin(categories, eq(categories.id, products.categoryId))
      .where(
        and(
          activeOnly ? eq(products.status, 'active') : undefined,
          byId ? eq(products.id, Number(key)) : eq(products.slug, key),
        ),
      )
      .limit(1);
    if (!found) return undefined;
    const { product: row, category } = found;
    // The cached tree may not know a category created a moment ago: then the trail is the category alone.
    const path = tree.byId.get(category.id)?.path ?? [category];
    return {
      id: row.id,
      sku: row.sku,
      slug: row.slug,
      name: row.name,
      description: row.description,
      brand: row.brand,
      category,
      breadcrumbs: path.map(({ id, slug, name }) => ({ id, slug, name })),
      price: { amount: row.priceAmount, currency: row.currency },
      images: row.images,
      attributes: row.attributes,
      stock: row.stock,
      in_stock: row.stock > 0,
      status: row.status,
      version: row.version,
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
    };
  }
}
