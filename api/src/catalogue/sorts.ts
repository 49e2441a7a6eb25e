/**
 * The product list's sorts, each described once: the column it orders by and in which direction
 * (the SQL in page-query.ts), and its key, the position a cursor carries (list-products.ts). Every
 * sort ends with the id as tie-breaker, so a key names exactly one row and keyset pages never
 * skip nor repeat one.
 */
export const SORTS = ['newest', 'price_asc', 'price_desc', 'name_asc', 'updated'] as const;
export type Sort = (typeof SORTS)[number];
export const DEFAULT_SORT: Sort = 'newest';

/** The position of a row in a sort: its sort column's value, then its id as tie-breaker. */
export type SortKey = [number | string, number];

/** The fields of a listed product the sorts read. */
interface SortedRow {
  id: number;
  name: string;
  price: { amount: number };
  created_at: string;
  updated_at: string;
}

export interface SortSpec {
  column: string;
  descending: boolean;
  /**
   * The column's SQL type, so the row comparison matches the index whatever the parameter type;
   * it also fixes the key's JSON shape in a cursor: epoch milliseconds, integer or text.
   */
  cast: 'timestamptz' | 'integer' | 'text';
  keyOf(row: SortedRow): SortKey;
}

const ms = (iso: string) => Date.parse(iso);

export const SORT_SPECS: Record<Sort, SortSpec> = {
  newest: { column: 'created_at', descending: true, cast: 'timestamptz', keyOf: (r) => [ms(r.created_at), r.id] },
  price_asc: { column: 'price_amount', descending: false, cast: 'integer', keyOf: (r) => [r.price.amount, r.id] },
  price_desc: { column: 'price_amount', descending: true, cast: 'integer', keyOf: (r) => [r.price.amount, r.id] },
  name_asc: { column: 'name', descending: false, cast: 'text', keyOf: (r) => [r.name, r.id] },
  updated: { column: 'updated_at', descending: false, cast: 'timestamptz', keyOf: (r) => [ms(r.updated_at), r.id] },
};

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** Checks a key taken from a cursor: the signature proves we made it, this proves it fits the sort. */
export function parseSortKey(sort: Sort, key: unknown): SortKey | undefined {
  if (!Array.isArray(key) || key.length !== 2 || !isId(key[1])) return undefined;
  const [value, id] = key as [unknown, number];
  switch (SORT_SPECS[sort].cast) {
    case 'timestamptz':
      return Number.isSafeInteger(value) && Math.abs(value as number) < 8.64e15 ? [value as number, id] : undefined;
    case 'integer':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? [value as number, id] : undefined;
    case 'text':
      return typeof value === 'string' && value.length <= 10_000 ? [value, id] : undefined;
  }
}

export function sortKeyOf(sort: Sort, row: SortedRow): SortKey {
  return SORT_SPECS[sort].keyOf(row);
}
