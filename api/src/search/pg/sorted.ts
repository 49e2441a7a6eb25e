import type pg from 'pg';
import { HIT_COLUMNS, type SearchRequest } from '../engine.ts';
import type { SearchSort } from '../schemas.ts';
import { HEADLINE_OPTIONS, type BuiltQuery } from '../terms.ts';
import type { HeadlinedRow } from './relevance.ts';
import { filtersOf, headline, statementName, textCondition } from './statement.ts';

type ListingSort = Exclude<SearchSort, 'relevance'>;

/** The listing's orders over products `p`, ties by id (as its keyset), on its partial indexes. */
const ORDERS: Record<ListingSort, string> = {
  newest: 'p.created_at DESC, p.id DESC',
  price_asc: 'p.price_amount, p.id',
  price_desc: 'p.price_amount DESC, p.id DESC',
  name_asc: 'p.name, p.id',
};

/** The price orders on product_search's own copy of the price: sorting needs no product row. */
const SEARCH_ORDERS: Partial<Record<ListingSort, string>> = {
  price_asc: 's.price_amount, s.id',
  price_desc: 's.price_amount DESC, s.id DESC',
};

/**
 * How far a sorted search walks the listing's order before reading every match instead: at least
 * WALK_BUDGET rows (100 ms of lookups at most), more for deep pages.
 */
const WALK_BUDGET = 10_000;
const WALK_ROWS_PER_HIT = 20;
/** Up to this many matches (estimated), a search by price reads and sorts them all (~2.5 µs each). */
const READ_BY_PRICE_MAX = 50_000;
/** Up to this many matches (counted or estimated), a sorted search reads and sorts them all. */
const READ_SORTED_MAX = 5_000;

/**
 * A page of the matches in one of the listing's orders. Up to READ_SORTED_MAX matches, they are
 * all read and sorted. Past it, the products are first walked in that order on its index, each
 * checked against the query (one lookup by id, ~10 µs): a word in 1 product out of 200 or more
 * fills a page of 24 within a few thousand rows, and the more products match, the sooner. The walk
 * reads at most WALK_BUDGET rows: when the matches sit far along the order (the cheapest products
 * are not shoes), every match is read and sorted instead, which costs what the matches number. By
 * price, that read needs no product row (product_search keeps the price), so up to
 * READ_BY_PRICE_MAX matches it is done at once, without a walk (prices follow categories, which
 * follow words: a walk by price is the likeliest to fail). Measured in docs/performance.md.
 */
export async function sortedPage(
  pool: pg.Pool,
  request: SearchRequest & { sort: ListingSort },
  query: BuiltQuery,
  total: number,
): Promise<HeadlinedRow[]> {
  // The headline's parameters only with a query to mark: PostgreSQL refuses a statement with a
  // parameter it uses nowhere (it cannot tell its type).
  const values: unknown[] = query.tsquery === null ? [] : [query.tsquery, HEADLINE_OPTIONS];
  const filters = filtersOf(request, values.length + 1);
  values.push(...filters.values);
  const param = (value: unknown) => `$${values.push(value)}`;
  const where = [textCondition(query, param), ...filters.where].join(' AND ');
  const order = ORDERS[request.sort];
  const offset = (request.page - 1) * request.limit;
  const limits = `LIMIT ${param(request.limit)} OFFSET ${param(offset)}`;
  const columns = `${HIT_COLUMNS},
       ${headline(query.tsquery === null ? null : `to_tsquery('catalog', $1)`, '$2')} AS name_headline`;
  const run = async (sql: string, extra: unknown[] = []) =>
    (await pool.query<HeadlinedRow>({ name: statementName(sql), text: sql, values: [...values, ...extra] })).rows;
  const byPrice = SEARCH_ORDERS[request.sort];
  // Few enough matches (counted or estimated) are read and sorted at once, without a walk.
  if (total > READ_SORTED_MAX && !(byPrice && total <= READ_BY_PRICE_MAX)) {
    // The check is a correlated subquery, so that it stays a lookup per product read in order
    // (as a join, the plan could read every match first, which is what the walk avoids).
    const walked = await run(
      `SELECT ${columns}
         FROM (SELECT * FROM products p WHERE p.status = 'active' ORDER BY ${order} LIMIT $${values.length + 1}) p
        WHERE coalesce((SELECT true FROM product_search s WHERE s.id = p.id AND ${where}), false)
        ORDER BY ${order} ${limits}`,
      [Math.max(WALK_BUDGET, WALK_ROWS_PER_HIT * (offset + request.limit))],
    );
    // Past the cap there are more matches than any page reaches: a short page means the budget
    // ran out, not the matches.
    if (walked.length === request.limit) return walked;
  }
  return run(
    byPrice
      ? `SELECT ${columns}
           FROM (SELECT s.id FROM product_search s WHERE ${where} ORDER BY ${byPrice} ${limits}) m
           JOIN products p ON p.id = m.id
          ORDER BY ${order}`
      : `SELECT ${columns} FROM product_search s JOIN products p ON p.id = s.id WHERE ${where} ORDER BY ${order} ${limits}`,
  );
}
