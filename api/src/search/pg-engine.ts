import type pg from 'pg';
import type { CategoryTree } from '../catalogue/category-tree.ts';
import type { SearchHit } from './schemas.ts';
import { buildQuery, HEADLINE_OPTIONS, markHtml, queryTerms, type BuiltQuery, type TermAnalysis } from './terms.ts';

/** Matches read per search: below, every count is exact; above, a sample scaled to the estimate. */
export const MATCH_CAP = 5_000;
/** Title matches (name, brand, category) read on top when the cap is reached, so they rank first. */
const TITLE_CAP = 2_000;
/** Prefix completions are ranked by rarity for at most this many matches (a lookup per word of each). */
const RARITY_CAP = 1_000;
/** Relevance pages reach this many hits at most (as Meilisearch's default maxTotalHits). */
export const MAX_TOTAL_HITS = 1_000;
/** Price buckets, in minor units: the same bounds as product_price_bucket() in migrations/0005. */
export const PRICE_BOUNDS = [1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000];

export interface SearchRequest {
  q: string;
  category?: number;
  brands?: string[];
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
  page: number;
  limit: number;
}

export interface SearchResult {
  hits: SearchHit[];
  total: number;
  totalExact: boolean;
  /** Counts by filter key ('c:<id>', 'b:<brand>', 'p:<bucket>', 's:<0|1>'), scaled when not exact. */
  facets: Map<string, number>;
  words: string[];
  corrected: boolean;
  /** No product had every word: products with any of them are shown. */
  relaxed: boolean;
}

const ANALYSE = `
  SELECT n.lexeme, s.stem, (s.stem IS NULL OR f.stop) AS stop,
         EXISTS (SELECT 1 FROM search_words w WHERE w.word = n.lexeme COLLATE "C") AS known,
         n.lexeme <> '' AND EXISTS (SELECT 1 FROM search_words w
                                     WHERE w.word >= n.lexeme COLLATE "C" AND w.word < (n.lexeme || chr(1114111)) COLLATE "C") AS known_prefix,
         fix.word AS correction
    FROM unnest($1::text[]) WITH ORDINALITY AS t(term, ord)
   CROSS JOIN LATERAL (SELECT coalesce((tsvector_to_array(to_tsvector('catalog', t.term)))[1], '') AS lexeme) n
   CROSS JOIN LATERAL (SELECT (ts_lexize('english_stem', n.lexeme))[1] AS stem) s
   CROSS JOIN LATERAL (SELECT coalesce(ts_lexize('french_stem', n.lexeme) = '{}', false) AS stop) f
    LEFT JOIN LATERAL (
      SELECT c.word FROM (SELECT w.word, w.ndoc FROM search_words w ORDER BY w.word <-> n.lexeme LIMIT 30) c
       CROSS JOIN LATERAL (
         -- A typo on the first letter counts twice (as in Meilisearch): people rarely get it wrong.
         SELECT typo_distance(c.word, n.lexeme, 2) + (left(c.word, 1) <> left(n.lexeme, 1))::int AS typos
       ) d
       WHERE length(n.lexeme) >= 4 AND d.typos <= CASE WHEN length(n.lexeme) >= 8 THEN 2 ELSE 1 END
       ORDER BY d.typos, c.ndoc DESC, c.word
       LIMIT 1
    ) fix ON NOT EXISTS (SELECT 1 FROM search_words w WHERE w.word = n.lexeme COLLATE "C")
   ORDER BY t.ord`;

interface Filters {
  where: string[];
  values: unknown[];
}

/** The filters as conditions on product_search, every value a parameter (numbered from `first`). */
function filtersOf(request: SearchRequest, first: number): Filters {
  const values: unknown[] = [];
  const where: string[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${first + values.length - 1}`;
  };
  const required: string[] = [];
  if (request.category !== undefined) required.push(`c:${request.category}`);
  if (request.inStock !== undefined) required.push(`s:${request.inStock ? 1 : 0}`);
  if (required.length > 0) where.push(`s.filter_keys @> ${param(required)}::text[]`);
  if (request.brands?.length) where.push(`s.filter_keys && ${param(request.brands.map((b) => `b:${b}`))}::text[]`);
  if (request.minPrice !== undefined || request.maxPrice !== undefined) {
    // The buckets the range touches, found in the index; then the exact range.
    const low = bucketOf(request.minPrice ?? 0);
    const high = bucketOf(request.maxPrice ?? Number.MAX_SAFE_INTEGER);
    const buckets = Array.from({ length: high - low + 1 }, (_, i) => `p:${low + i}`);
    where.push(`s.filter_keys && ${param(buckets)}::text[]`);
    if (request.minPrice !== undefined) where.push(`s.price_amount >= ${param(request.minPrice)}`);
    if (request.maxPrice !== undefined) where.push(`s.price_amount <= ${param(request.maxPrice)}`);
  }
  return { where, values };
}

export function bucketOf(amount: number): number {
  let bucket = 0;
  while (bucket < PRICE_BOUNDS.length && amount >= PRICE_BOUNDS[bucket]!) bucket += 1;
  return bucket;
}

interface SearchRow {
  matched: number;
  last_block: number | null;
  blocks: number;
  facets: Record<string, number> | null;
  hits:
    | (Omit<SearchHit, 'highlight' | 'price' | 'image' | 'in_stock'> & {
        price_amount: number;
        currency: string;
        image_url: string | null;
        image_alt: string | null;
        name_headline: string;
      })[]
    | null;
}

/**
 * Full-text search in PostgreSQL over product_search (migrations/0005): two round trips, the
 * first to read the query's words against the catalogue's (stems, stop words, typos), the second
 * for the page of hits, the facet counts and the total at once. At most MATCH_CAP matches are
 * read and ranked (plus TITLE_CAP title matches), so a word found in 300,000 products costs about
 * what one found in 5,000 does; beyond the cap, counts and total are estimates, and say so.
 */
export class PgSearch {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async analyse(terms: string[]): Promise<TermAnalysis[]> {
    if (terms.length === 0) return [];
    const { rows } = await this.#pool.query<{
      lexeme: string;
      stem: string | null;
      stop: boolean;
      known: boolean;
      known_prefix: boolean;
      correction: string | null;
    }>(ANALYSE, [terms]);
    return rows.map((r) => ({
      lexeme: r.lexeme,
      stem: r.stem,
      stop: r.stop,
      known: r.known,
      knownPrefix: r.known_prefix,
      correction: r.correction,
    }));
  }

  async search(request: SearchRequest): Promise<SearchResult> {
    const analysed = await this.analyse(queryTerms(request.q));
    const all = buildQuery(analysed);
    let result = await this.#run(request, all);
    let relaxed = false;
    if (result.matched === 0 && all.words.length > 1) {
      const any = buildQuery(analysed, { any: true });
      result = await this.#run(request, any);
      relaxed = true;
    }
    const capped = result.matched > MATCH_CAP;
    const sample = Math.min(result.matched, MATCH_CAP);
    // Past the cap, the matches read are the first in the table's physical order: the share of
    // its blocks they came from estimates the whole.
    const total = capped
      ? Math.max(sample + 1, Math.round((sample * result.blocks) / ((result.last_block ?? 0) + 1)))
      : result.matched;
    const scale = capped ? total / sample : 1;
    const facets = new Map(
      Object.entries(result.facets ?? {}).map(([key, count]) => [key, capped ? roughly(count * scale) : count]),
    );
    return {
      hits: (result.hits ?? []).map((h) => ({
        id: Number(h.id),
        sku: h.sku,
        slug: h.slug,
        name: h.name,
        brand: h.brand,
        category_id: h.category_id,
        price: { amount: h.price_amount, currency: h.currency },
        image: h.image_url === null ? null : { url: h.image_url, alt: h.image_alt ?? '' },
        stock: h.stock,
        in_stock: h.stock > 0,
        highlight: { name: markHtml(h.name_headline) },
      })),
      total,
      totalExact: !capped,
      facets,
      words: all.words,
      corrected: all.corrected,
      relaxed,
    };
  }

  async #run(request: SearchRequest, query: BuiltQuery): Promise<SearchRow> {
    const { tsquery, exact, prefix } = query;
    const values: unknown[] = [tsquery ?? '', exact ?? '', HEADLINE_OPTIONS, prefix ?? ''];
    const filters = filtersOf(request, values.length + 1);
    values.push(...filters.values);
    let text = tsquery !== null ? `s.doc @@ to_tsquery('catalog', $1)` : 'true';
    const { match } = query;
    if (match) {
      // The last word as a prefix of a title word, or whole anywhere (see BuiltQuery.match).
      values.push(match.whole, match.titlePrefix);
      const whole = `s.doc @@ to_tsquery('catalog', $${values.length - 1})`;
      const titled = `s.title_doc @@ to_tsquery('catalog', $${values.length})`;
      if (match.rest !== null) values.push(match.rest);
      const rest = match.rest !== null ? ` AND s.doc @@ to_tsquery('catalog', $${values.length})` : '';
      text = `(${whole} OR (${titled}${rest}))`;
    }
    const where = [text, ...filters.where].join(' AND ');
    const offset = (request.page - 1) * request.limit;
    // LIMIT and OFFSET are integers checked by the route's schema, not text from the request.
    const sql = `
      WITH query AS MATERIALIZED (SELECT to_tsquery('catalog', $1) AS q, to_tsquery('catalog', $2) AS exact),
      matched AS MATERIALIZED (
        SELECT s.id, s.doc, s.title_doc, s.filter_keys, (s.ctid::text::point)[0]::int AS block
          FROM product_search s WHERE ${where}
         LIMIT ${MATCH_CAP + 1}
      ),
      stats AS (SELECT count(*)::int AS n, max(block) AS last_block FROM matched),
      -- Past the cap, title matches the sample missed, which rank first: read only when the
      -- sample's own title matches cannot fill the page (they are as good a sample of that tier).
      title_hits AS (
        SELECT s.id, s.doc, s.title_doc FROM product_search s
         WHERE (SELECT n FROM stats) > ${MATCH_CAP} AND $1 <> ''
           AND (SELECT count(*) FROM matched m WHERE m.title_doc @@ (SELECT q FROM query)) < ${offset + request.limit}
           AND s.title_doc @@ (SELECT q FROM query) AND ${[...filters.where, 'true'].join(' AND ')}
         LIMIT ${TITLE_CAP}
      ),
      candidates AS (
        SELECT id, doc, title_doc FROM matched
        UNION ALL
        SELECT id, doc, title_doc FROM title_hits WHERE id NOT IN (SELECT id FROM matched)
      ),
      ranked AS (
        SELECT c.id,
               CASE WHEN $1 = '' THEN false ELSE c.title_doc @@ (SELECT q FROM query) END AS in_title,
               CASE WHEN $2 = '' THEN false ELSE c.doc @@ (SELECT exact FROM query) END AS whole,
               -- How rare the word the prefix completes to is (fewest products): the more specific
               -- match first, as a rarer word weighs more in BM25. 'bri' puts Brixolt before Brick.
               -- Only for up to RARITY_CAP matches: past that it costs more than the rest of the search.
               CASE WHEN $4 = '' OR (SELECT n FROM stats) > ${RARITY_CAP} THEN NULL ELSE (
                 SELECT min(w.ndoc) FROM unnest(tsvector_to_array(c.title_doc)) AS l(word)
                   JOIN search_words w ON w.word = l.word COLLATE "C"
                  WHERE starts_with(l.word, $4)
               ) END AS rarity,
               CASE WHEN $1 = '' THEN 0 ELSE ts_rank('{0.1, 0.2, 0.4, 1.0}', c.doc, (SELECT q FROM query)) END AS rank
          FROM candidates c
         ORDER BY in_title DESC, whole DESC, rarity ASC NULLS LAST, rank DESC, c.id
         LIMIT ${request.limit} OFFSET ${offset}
      ),
      facets AS (SELECT key, count(*)::int AS n FROM matched, unnest(filter_keys) AS key GROUP BY key)
      SELECT (SELECT n FROM stats) AS matched, (SELECT last_block FROM stats) AS last_block,
             (pg_relation_size('product_search') / current_setting('block_size')::int)::int AS blocks,
             (SELECT json_object_agg(key, n) FROM facets) AS facets,
             (SELECT json_agg(h ORDER BY h.ord) FROM (
                SELECT row_number() OVER (ORDER BY r.in_title DESC, r.whole DESC, r.rarity ASC NULLS LAST, r.rank DESC, r.id) AS ord,
                       p.id, p.sku, p.slug, p.name, p.brand, p.category_id, p.price_amount, p.currency,
                       p.images -> 0 ->> 'url' AS image_url, p.images -> 0 ->> 'alt' AS image_alt, p.stock,
                       CASE WHEN $1 = '' THEN replace(replace(p.name, chr(57344), ''), chr(57345), '')
                            ELSE ts_headline('catalog', replace(replace(p.name, chr(57344), ''), chr(57345), ''),
                                             (SELECT q FROM query), $3) END AS name_headline
                  FROM ranked r JOIN products p ON p.id = r.id
             ) h) AS hits`;
    const { rows } = await this.#pool.query<SearchRow>(sql, values);
    return rows[0]!;
  }

  /** Rebuilds the words typos are corrected against (after a seed or an import; now and then). */
  async refreshWords(): Promise<void> {
    await this.#pool.query('REFRESH MATERIALIZED VIEW CONCURRENTLY search_words');
  }
}

/** Two significant figures: a scaled count is an estimate, and should not look exact. */
function roughly(value: number): number {
  if (value < 100) return Math.round(value);
  const magnitude = 10 ** (Math.floor(Math.log10(value)) - 1);
  return Math.round(value / magnitude) * magnitude;
}

/** The facets an answer shows: categories one level below the chosen one (or departments). */
export function categoryFacets(
  facets: Map<string, number>,
  tree: CategoryTree,
  chosen: number | undefined,
): { slug: string; name: string; count: number }[] {
  const parent = chosen ?? null;
  return tree.ordered
    .filter((node) => node.parentId === parent)
    .map((node) => ({ slug: node.slug, name: node.name, count: facets.get(`c:${node.id}`) ?? 0 }))
    .filter((facet) => facet.count > 0);
}
