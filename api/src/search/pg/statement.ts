import { createHash } from 'node:crypto';
import type { SearchRequest } from '../engine.ts';
import type { BuiltQuery } from '../terms.ts';
import { priceKeys } from './price-keys.ts';

/**
 * The pieces both PostgreSQL search statements (relevance.ts, sorted.ts) are written from. Every
 * value from the request is a parameter: only the shape of the query changes the text.
 */

export interface Filters {
  where: string[];
  values: unknown[];
}

/** The filters as conditions on product_search `s`, every value a parameter (numbered from `first`). */
export function filtersOf(request: SearchRequest, first: number): Filters {
  const values: unknown[] = [];
  const where: string[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${first + values.length - 1}`;
  };
  const required: string[] = [];
  if (request.category !== undefined) required.push(`c:${request.category}`);
  // Out of stock, a few products: found in the index. In stock, nearly all: intersecting the
  // index's longest posting list costs more than checking the rows read anyway.
  if (request.inStock === false) required.push('s:0');
  if (request.inStock === true) where.push(`'s:1' = ANY (s.filter_keys)`);
  if (required.length > 0) where.push(`s.filter_keys @> ${param(required)}::text[]`);
  if (request.brands?.length) where.push(`s.filter_keys && ${param(request.brands.map((b) => `b:${b}`))}::text[]`);
  if (request.minPrice !== undefined || request.maxPrice !== undefined) {
    // The range's keys, found in the index (none for every price); then the exact range.
    const keys = priceKeys(request.minPrice ?? 0, request.maxPrice ?? Number.MAX_SAFE_INTEGER);
    if (keys !== null) where.push(`s.filter_keys && ${param(keys)}::text[]`);
    if (request.minPrice !== undefined) where.push(`s.price_amount >= ${param(request.minPrice)}`);
    if (request.maxPrice !== undefined) where.push(`s.price_amount <= ${param(request.maxPrice)}`);
  }
  return { where, values };
}

/** What finds a product for the query's words, on product_search `s` (values through `param`). */
export function textCondition({ match, find }: BuiltQuery, param: (value: unknown) => string): string {
  if (match) {
    // The last word as a prefix of a title word, or whole anywhere (see BuiltQuery.match).
    const whole = `s.doc @@ to_tsquery('catalog', ${param(match.whole)})`;
    const titled = `s.title_doc @@ to_tsquery('catalog', ${param(match.titlePrefix)})`;
    const rest = match.rest !== null ? ` AND s.doc @@ to_tsquery('catalog', ${param(match.rest)})` : '';
    return `(${whole} OR (${titled}${rest}))`;
  }
  return find !== null ? `s.doc @@ to_tsquery('catalog', ${param(find)})` : 'true';
}

/** The name of product `p` with its matched words marked (as markHtml reads them), by `tsquery`. */
export function headline(tsquery: string | null, options: string): string {
  const name = `replace(replace(p.name, chr(57344), ''), chr(57345), '')`;
  return tsquery === null ? name : `ts_headline('catalog', ${name}, ${tsquery}, ${options})`;
}

/**
 * A name for a statement, the same for the same text: each connection parses and plans it once
 * (the search pool keeps one generic plan; see db/database.ts), which matters with partitions.
 * The text depends only on the query's shape (about 0.7 MB of plan each, a few dozen shapes).
 */
export function statementName(text: string): string {
  return `search_${createHash('sha1').update(text).digest('base64url')}`;
}
