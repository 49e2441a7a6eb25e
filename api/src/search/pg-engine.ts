import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { CategoryTree } from '../catalogue/category-tree.ts';
import type { SearchHit, SearchSort } from './schemas.ts';
import { buildQuery, HEADLINE_OPTIONS, markHtml, queryTerms, type BuiltQuery, type TermAnalysis } from './terms.ts';

/**
 * Matches read per search: below, every count is exact; above, a sample scaled to the estimate.
 * Reading a match costs about 4 µs (its row, its rank, its facets): 1,000 take 4 ms.
 */
export const MATCH_CAP = 1_000;
/** One product in this many is in the sample (product_search_sample, migrations/0007). */
export const SAMPLE_RATE = 16;
/** The other partitions of product_search (migrations/0007). */
const REST_PARTITIONS = [
  'product_search_rest_8',
  'product_search_rest_4',
  'product_search_rest_2',
  'product_search_rest_1',
];
/**
 * Matches read in the sample at most: a common word's hits, facets and total come from them (a
 * share of 10% among them is known within ±1.3 points).
 */
const SAMPLE_CAP = 500;
/**
 * Matches in the sample from which a word is common (more than MATCH_CAP matches in all): 109
 * project to 1,744, and a word in 1,000 products has 62.5 ± 7.7 in the sample (6 standard
 * deviations below).
 */
const COMMON_SAMPLE = 109;
/** Title matches (name, brand, category) read on top when the cap is reached, so they rank first. */
const TITLE_CAP = 2_000;
/** ... when the matches read hold fewer title matches than this (the longest page). */
const TITLE_FILL = 100;
/** The longest page (SearchQuery's limit). */
const MAX_PAGE = 100;
/** Prefix completions are ranked by rarity for at most this many matches (a lookup per word of each). */
const RARITY_CAP = 1_000;
/** Relevance pages reach this many hits at most (as Meilisearch's default maxTotalHits). */
export const MAX_TOTAL_HITS = 1_000;
/** Price buckets, in minor units: the same bounds as product_price_bucket() in migrations/0005. */
export const PRICE_BOUNDS = [1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000];
/**
 * Fine price bands, the keys a price range is found by at its ends: each bucket cut in ten, and
 * four more above the last. The same bounds as product_price_band() in migrations/0008.
 */
export const BAND_BOUNDS = [
  ...PRICE_BOUNDS.flatMap((bound, i) => {
    const from = i === 0 ? 0 : PRICE_BOUNDS[i - 1]!;
    return Array.from({ length: 10 }, (_, step) => from + ((bound - from) * (step + 1)) / 10);
  }),
  150_000,
  200_000,
  500_000,
  1_000_000,
];

export interface SearchRequest {
  q: string;
  category?: number;
  brands?: string[];
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
  /** Relevance unless given. */
  sort?: SearchSort;
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

/** Completions listed for a prefix at most (more: the prefix is searched as a prefix). */
const COMPLETIONS_CAP = 50;

const ANALYSE = `
  SELECT n.lexeme, s.stem, (s.stem IS NULL OR f.stop) AS stop,
         -- The words of the documents the stem and the lexeme begin (see TermAnalysis).
         CASE WHEN length(s.stem) >= 4 AND s.stem <> n.lexeme THEN (
           SELECT CASE WHEN count(*) <= ${COMPLETIONS_CAP} THEN coalesce(array_agg(v.word), '{}') END
             FROM (SELECT v.word FROM search_vocabulary v
                    WHERE v.word >= s.stem COLLATE "C" AND v.word < (s.stem || chr(1114111)) COLLATE "C"
                    LIMIT ${COMPLETIONS_CAP + 1}) v
         ) END AS stem_completions,
         CASE WHEN length(n.lexeme) >= 2 THEN (
           SELECT CASE WHEN count(*) <= ${COMPLETIONS_CAP} THEN coalesce(array_agg(v.word), '{}') END
             FROM (SELECT v.word FROM search_vocabulary v
                    WHERE v.word >= n.lexeme COLLATE "C" AND v.word < (n.lexeme || chr(1114111)) COLLATE "C"
                    LIMIT ${COMPLETIONS_CAP + 1}) v
         ) END AS prefix_completions,
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
       -- Only for a word the catalogue lacks (the nearest words are not even looked up otherwise).
       WHERE length(n.lexeme) >= 4 AND NOT EXISTS (SELECT 1 FROM search_words w WHERE w.word = n.lexeme COLLATE "C")
         AND d.typos <= CASE WHEN length(n.lexeme) >= 8 THEN 2 ELSE 1 END
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
function textCondition({ match, find }: BuiltQuery, param: (value: unknown) => string): string {
  if (match) {
    // The last word as a prefix of a title word, or whole anywhere (see BuiltQuery.match).
    const whole = `s.doc @@ to_tsquery('catalog', ${param(match.whole)})`;
    const titled = `s.title_doc @@ to_tsquery('catalog', ${param(match.titlePrefix)})`;
    const rest = match.rest !== null ? ` AND s.doc @@ to_tsquery('catalog', ${param(match.rest)})` : '';
    return `(${whole} OR (${titled}${rest}))`;
  }
  return find !== null ? `s.doc @@ to_tsquery('catalog', ${param(find)})` : 'true';
}

/** The listing's orders over products `p`, ties by id (as its keyset), on its partial indexes. */
const ORDERS: Record<Exclude<SearchSort, 'relevance'>, string> = {
  newest: 'p.created_at DESC, p.id DESC',
  price_asc: 'p.price_amount, p.id',
  price_desc: 'p.price_amount DESC, p.id DESC',
  name_asc: 'p.name, p.id',
};

/** The price orders on product_search's own copy of the price: sorting needs no product row. */
const SEARCH_ORDERS: Partial<Record<Exclude<SearchSort, 'relevance'>, string>> = {
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

/** The bucket (or band, with BAND_BOUNDS) of an amount: as width_bucket() in SQL. */
export function bucketOf(amount: number, bounds: readonly number[] = PRICE_BOUNDS): number {
  let bucket = 0;
  while (bucket < bounds.length && amount >= bounds[bucket]!) bucket += 1;
  return bucket;
}

/**
 * A product's price keys beside its bucket (product_price_keys(), migrations/0008): its band, and
 * for each bound between buckets, which side of it the price is (`u:<k>`: below bucket k, `o:<k>`:
 * in bucket k or above).
 */
export function rowPriceKeys(amount: number): string[] {
  const bucket = bucketOf(amount);
  return [
    `f:${bucketOf(amount, BAND_BOUNDS)}`,
    ...PRICE_BOUNDS.map((_, i) => `${bucket < i + 1 ? 'u' : 'o'}:${i + 1}`),
  ];
}

/**
 * The filter keys that find the products priced from `min` to `max` (inclusive), or null for every
 * price: the buckets the range covers whole in one key when the range is open on one side (`u:3`
 * under 50.00, `o:3` from 50.00: the index walks one posting list beside the words' rather than
 * three), one key each otherwise (`p:`), and the bands of the buckets it covers in part (`f:`), so
 * that the rows read outside the range are those of its two end bands at most (`max_price=5000`:
 * the band from 50.00 to 54.99, not the bucket up to 99.99). A bucket is ten bands.
 */
export function priceKeys(min: number, max: number): string[] | null {
  const from = (bucket: number) => (bucket === 0 ? 0 : PRICE_BOUNDS[bucket - 1]!);
  // The last bucket has no end: only a range without a maximum covers it whole.
  const to = (bucket: number) => PRICE_BOUNDS[bucket] ?? Number.MAX_SAFE_INTEGER + 1;
  const covered: number[] = [];
  const bands: string[] = [];
  for (let bucket = bucketOf(min); bucket <= bucketOf(max); bucket += 1) {
    if (min <= from(bucket) && max >= to(bucket) - 1) {
      covered.push(bucket);
      continue;
    }
    const last = bucketOf(Math.min(max, to(bucket) - 1), BAND_BOUNDS);
    for (let band = bucketOf(Math.max(min, from(bucket)), BAND_BOUNDS); band <= last; band += 1)
      bands.push(`f:${band}`);
  }
  // Only the first and the last bucket can be covered in part: the others are contiguous.
  const [first, last] = [covered[0], covered.at(-1)];
  if (first === undefined || last === undefined) return bands;
  if (first === 0 && last === PRICE_BOUNDS.length) return null;
  if (first === 0) return [`u:${last + 1}`, ...bands];
  if (last === PRICE_BOUNDS.length) return [`o:${first}`, ...bands];
  return [...covered.map((bucket) => `p:${bucket}`), ...bands];
}

/** A hit as both engines read it from products (the page's rows), its name marked as HTML apart. */
export type HitRow = Omit<SearchHit, 'id' | 'highlight' | 'price' | 'image' | 'in_stock'> & {
  id: number | string;
  price_amount: number;
  currency: string;
  image_url: string | null;
  image_alt: string | null;
};

export function hitOf(row: HitRow, highlightedName: string): SearchHit {
  return {
    id: Number(row.id),
    sku: row.sku,
    slug: row.slug,
    name: row.name,
    brand: row.brand,
    category_id: row.category_id,
    price: { amount: row.price_amount, currency: row.currency },
    image: row.image_url === null ? null : { url: row.image_url, alt: row.image_alt ?? '' },
    stock: row.stock,
    in_stock: row.stock > 0,
    highlight: { name: highlightedName },
  };
}

interface SearchRow {
  /** Matches read: the sample's (common words) or the whole catalogue's (up to MATCH_CAP + 1). */
  matched: number;
  /** Matches read in the sample (up to SAMPLE_CAP + 1), the block of the last, the sample's size. */
  sampled: number;
  sample_last_block: number | null;
  sample_blocks: number;
  facets: Record<string, number> | null;
  hits: (HitRow & { name_headline: string })[] | null;
}

/**
 * Full-text search in PostgreSQL over product_search (migrations/0005, partitioned in 0007): two
 * round trips, the first to read the query's words against the catalogue's (stems, stop words,
 * typos, and the words a prefix completes to, searched as those words: see BuiltQuery.find), the
 * second for the page of hits, the facet counts and the total at once.
 *
 * The second reads the sample first (product_search_sample: a fixed one in SAMPLE_RATE products,
 * by a hash of the id, with its own GIN index), at most SAMPLE_CAP matches. When they project
 * well past MATCH_CAP (COMMON_SAMPLE of them: 1,000 matches would give 62.5 ± 7.7), the word is
 * common: hits, facets and total come from the sample alone, scaled, and say they are
 * estimates. A word found in 400,000 products then costs what one found in 25,000 does, and
 * every common word reads the same small, cached partition. Otherwise the whole catalogue is
 * read, up to MATCH_CAP + 1 matches: below the cap every count is exact; above (a word in
 * 1,000 to 1,700 products), the sample's count gives the total.
 */
export class PgSearch {
  readonly #pool: pg.Pool;
  readonly #primary: pg.Pool;

  /** Searches read `pool` (the read replica's, when there is one); `primary` rebuilds the words. */
  constructor(pool: pg.Pool, primary: pg.Pool = pool) {
    this.#pool = pool;
    this.#primary = primary;
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
      stem_completions: string[] | null;
      prefix_completions: string[] | null;
    }>({ name: 'search_analyse', text: ANALYSE, values: [terms] });
    return rows.map((r) => ({
      lexeme: r.lexeme,
      stem: r.stem,
      stop: r.stop,
      known: r.known,
      knownPrefix: r.known_prefix,
      correction: r.correction,
      stemCompletions: r.stem_completions,
      prefixCompletions: r.prefix_completions,
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
    const common = result.sampled >= COMMON_SAMPLE;
    let total = result.matched;
    if (common) {
      // The sample read to its end, or up to a block: the share of the sample it covers.
      const share =
        result.sampled > SAMPLE_CAP ? ((result.sample_last_block ?? 0) + 1) / Math.max(1, result.sample_blocks) : 1;
      total = Math.max(MATCH_CAP + 1, Math.round((result.sampled * SAMPLE_RATE) / Math.min(1, share)));
    } else if (result.matched > MATCH_CAP) {
      total = Math.max(result.matched, result.sampled * SAMPLE_RATE);
    }
    const exact = total === result.matched && result.matched <= MATCH_CAP;
    const scale = exact ? 1 : total / Math.max(1, result.matched);
    if (request.sort && request.sort !== 'relevance' && total > 0) {
      result.hits = await this.#sorted(request, relaxed ? buildQuery(analysed, { any: true }) : all, total);
    }
    const facets = new Map(
      Object.entries(result.facets ?? {}).map(([key, count]) => [key, exact ? count : roughly(count * scale)]),
    );
    return {
      hits: (result.hits ?? []).map((h) => hitOf(h, markHtml(h.name_headline))),
      total,
      totalExact: exact,
      facets,
      words: all.words,
      corrected: all.corrected,
      relaxed,
    };
  }

  async #run(request: SearchRequest, query: BuiltQuery): Promise<SearchRow> {
    const { tsquery, exact, prefix } = query;
    const values: unknown[] = [tsquery ?? '', exact ?? '', HEADLINE_OPTIONS];
    const filters = filtersOf(request, values.length + 1);
    values.push(...filters.values);
    const param = (value: unknown) => `$${values.push(value)}`;
    const completing = prefix === null ? null : param(prefix);
    const where = [textCondition(query, param), ...filters.where].join(' AND ');
    const offset = (request.page - 1) * request.limit;
    // The page as parameters: the text, and so the statement each connection keeps, depends only
    // on the query's shape (which words are prefixes, which filters), a few dozen at most.
    const [pageLimit, pageOffset, pageEnd] = [param(request.limit), param(offset), param(offset + request.limit)];
    // What ranks a match, computed as it is read (the documents are not kept): all the words in
    // the title (name, brand, category), all of them whole, then their weight. With a prefix, the
    // title's words too, for how rare the word the prefix completes to is (see ranked).
    const keys = [
      tsquery === null ? 'false AS in_title' : 's.title_doc @@ (SELECT q FROM query) AS in_title',
      exact === null ? 'false AS whole' : 's.doc @@ (SELECT exact FROM query) AS whole',
      tsquery === null ? '0::real AS rank' : `ts_rank('{0.1, 0.2, 0.4, 1.0}', s.doc, (SELECT q FROM query)) AS rank`,
      ...(prefix === null ? [] : ['s.title_doc']),
    ].join(', ');
    const kept = ['id', 'in_title', 'whole', 'rank', ...(prefix === null ? [] : ['title_doc'])].join(', ');
    const common = `(SELECT n FROM sampled) >= ${COMMON_SAMPLE}`;
    const sql = `
      WITH query AS MATERIALIZED (
        SELECT to_tsquery('catalog', $1) AS q, to_tsquery('catalog', $2) AS exact, $3::text AS headline,
               -- The catalogue's title words the prefix completes to, with their number of products.
               ${
                 completing === null
                   ? 'NULL::jsonb'
                   : `(SELECT jsonb_object_agg(w.word, w.ndoc) FROM search_words w
                    WHERE w.word >= ${completing}::text COLLATE "C" AND w.word < (${completing}::text || chr(1114111)) COLLATE "C")`
               } AS completions
      ),
      sample AS MATERIALIZED (
        SELECT s.id, s.filter_keys, ${keys}, (s.ctid::text::point)[0]::int AS block
          FROM product_search_sample s WHERE ${where}
         LIMIT ${SAMPLE_CAP + 1}
      ),
      sampled AS (SELECT count(*)::int AS n, max(block) AS last_block FROM sample),
      -- The sample's matches; unless the word is common, the other partitions' too, up to the
      -- cap (read only then).
      matched AS MATERIALIZED (
        SELECT filter_keys, ${kept} FROM sample
        UNION ALL
        (SELECT * FROM (${REST_PARTITIONS.map((table) => `SELECT s.filter_keys, s.id, ${keys} FROM ${table} s WHERE ${where}`).join(' UNION ALL ')}) r
          WHERE NOT ${common}
          LIMIT (SELECT ${MATCH_CAP + 1} - n FROM sampled))
      ),
      stats AS (SELECT count(*)::int AS n, (count(*) FILTER (WHERE in_title))::int AS titled FROM matched),
      candidates AS (
        SELECT ${kept} FROM matched
        ${
          tsquery === null
            ? ''
            : `UNION ALL
        -- Common or past the cap, title matches the matches read missed, which rank first: read
        -- only when their own title matches are fewer than a long page (whatever the page asked
        -- for, so that every page ranks the same hits).
        SELECT ${kept} FROM (
          SELECT s.id, ${keys} FROM product_search s
           WHERE (${common} OR (SELECT n FROM stats) > ${MATCH_CAP}) AND (SELECT titled FROM stats) < ${TITLE_FILL}
             AND s.title_doc @@ (SELECT q FROM query) AND ${[...filters.where, 'true'].join(' AND ')}
           LIMIT ${TITLE_CAP}
        ) t WHERE t.id NOT IN (SELECT id FROM matched)`
        }
      ),
      -- Common, and a page past what the sample and those title matches hold: the other
      -- partitions' first matches follow them, ranked among themselves (as many whatever the
      -- page, which ranks the same hits every time), enough to reach the last page.
      more AS (
        SELECT ${kept} FROM (${REST_PARTITIONS.map((table) => `SELECT s.id, ${keys} FROM ${table} s WHERE ${where}`).join(' UNION ALL ')}) r
         WHERE ${common} AND (SELECT count(*) FROM candidates) < ${pageEnd} AND r.id NOT IN (SELECT id FROM candidates)
         LIMIT ${MAX_TOTAL_HITS + MAX_PAGE}
      ),
      ranked AS (
        SELECT c.id, c.after, c.in_title, c.whole, c.rank,
               -- How rare the word the prefix completes to is (fewest products): the more specific
               -- match first, as a rarer word weighs more in BM25. 'bri' puts Brixolt before Brick.
               -- Only for up to RARITY_CAP matches: past that it costs more than the rest of the search.
               ${
                 prefix === null
                   ? 'NULL::integer'
                   : `CASE WHEN ${common} OR (SELECT n FROM stats) > ${RARITY_CAP} THEN NULL ELSE (
                 SELECT min(((SELECT completions FROM query) ->> l.word)::int) FROM unnest(tsvector_to_array(c.title_doc)) AS l(word)
               ) END`
               } AS rarity
          FROM (SELECT false AS after, ${kept} FROM candidates UNION ALL SELECT true, ${kept} FROM more) c
         ORDER BY c.after, in_title DESC, whole DESC, rarity ASC NULLS LAST, rank DESC, c.id
         LIMIT ${pageLimit} OFFSET ${pageOffset}
      ),
      -- Facet counts: a product's keys are its category, its price keys, that category's
      -- ancestors, its brand (if any), its price bucket and its stock, in that order
      -- (product_search_rows(), migrations/0008). One pass counts the category, the brand, the
      -- bucket and the stock by position; each category then adds its count to its ancestors
      -- (the path of one of its products).
      grouped AS (
        SELECT m.filter_keys[1] AS own, m.filter_keys[cardinality(m.filter_keys) - 2] AS brand,
               m.filter_keys[cardinality(m.filter_keys) - 1] AS price, m.filter_keys[cardinality(m.filter_keys)] AS stock,
               count(*)::int AS n, any_value(m.filter_keys) AS keys
          FROM matched m GROUP BY GROUPING SETS ((1), (2), (3), (4))
      ),
      facets AS (
        SELECT key, sum(n)::int AS n FROM (
          SELECT k AS key, g.n FROM grouped g, unnest(g.keys) AS k WHERE g.own IS NOT NULL AND starts_with(k, 'c:')
          UNION ALL SELECT brand, n FROM grouped WHERE starts_with(brand, 'b:')
          UNION ALL SELECT price, n FROM grouped WHERE price IS NOT NULL
          UNION ALL SELECT stock, n FROM grouped WHERE stock IS NOT NULL
        ) f GROUP BY key
      )
      SELECT (SELECT n FROM stats) AS matched, (SELECT n FROM sampled) AS sampled,
             (SELECT last_block FROM sampled) AS sample_last_block,
             (pg_relation_size('product_search_sample') / current_setting('block_size')::int)::int AS sample_blocks,
             (SELECT json_object_agg(key, n) FROM facets) AS facets,
             (SELECT json_agg(h ORDER BY h.ord) FROM (
                SELECT row_number() OVER (ORDER BY r.after, r.in_title DESC, r.whole DESC, r.rarity ASC NULLS LAST, r.rank DESC, r.id) AS ord,
                       p.id, p.sku, p.slug, p.name, p.brand, p.category_id, p.price_amount, p.currency,
                       p.images -> 0 ->> 'url' AS image_url, p.images -> 0 ->> 'alt' AS image_alt, p.stock,
                       ${
                         tsquery === null
                           ? `replace(replace(p.name, chr(57344), ''), chr(57345), '')`
                           : `ts_headline('catalog', replace(replace(p.name, chr(57344), ''), chr(57345), ''), (SELECT q FROM query), (SELECT headline FROM query))`
                       } AS name_headline
                  FROM ranked r JOIN products p ON p.id = r.id
             ) h) AS hits`;
    const { rows } = await this.#pool.query<SearchRow>({ name: statementName(sql), text: sql, values });
    return rows[0]!;
  }

  /**
   * A page of the matches in one of the listing's orders. Up to READ_SORTED_MAX matches, they are
   * all read and sorted. Past it, the products are first walked in that order on its index, each
   * checked against the query (one lookup by id, ~10 µs): a word in 1 product out of 200 or more
   * fills a page of 24 within a few thousand rows, and the more products match, the sooner. The walk
   * reads at most WALK_BUDGET rows: when the matches sit far along the order (the cheapest
   * products are not shoes: "shoe" by price walked 600,000 rows, 6 s), every match is read and
   * sorted instead, which costs what the matches number. By price, that read needs no product row
   * (product_search keeps the price: 14,000 matches in 33 ms), so up to READ_BY_PRICE_MAX matches
   * it is done at once, without a walk (prices follow categories, which follow words: a walk by
   * price is the likeliest to fail).
   */
  async #sorted(request: SearchRequest, query: BuiltQuery, total: number): Promise<SearchRow['hits']> {
    // The headline's parameters only with a query to mark: PostgreSQL refuses a statement with a
    // parameter it uses nowhere (it cannot tell its type).
    const values: unknown[] = query.tsquery === null ? [] : [query.tsquery, HEADLINE_OPTIONS];
    const filters = filtersOf(request, values.length + 1);
    values.push(...filters.values);
    const param = (value: unknown) => `$${values.push(value)}`;
    const where = [textCondition(query, param), ...filters.where].join(' AND ');
    const sort = request.sort as Exclude<SearchSort, 'relevance'>;
    const order = ORDERS[sort];
    const offset = (request.page - 1) * request.limit;
    const limits = `LIMIT ${param(request.limit)} OFFSET ${param(offset)}`;
    const columns = `p.id, p.sku, p.slug, p.name, p.brand, p.category_id, p.price_amount, p.currency,
       p.images -> 0 ->> 'url' AS image_url, p.images -> 0 ->> 'alt' AS image_alt, p.stock,
       ${
         query.tsquery === null
           ? `replace(replace(p.name, chr(57344), ''), chr(57345), '')`
           : `ts_headline('catalog', replace(replace(p.name, chr(57344), ''), chr(57345), ''), to_tsquery('catalog', $1), $2)`
       } AS name_headline`;
    const run = async (sql: string, extra: unknown[] = []) =>
      (
        await this.#pool.query<NonNullable<SearchRow['hits']>[number]>({
          name: statementName(sql),
          text: sql,
          values: [...values, ...extra],
        })
      ).rows;
    const byPrice = SEARCH_ORDERS[sort];
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

  /** Rebuilds the words typos are corrected against (after a seed or an import; now and then). */
  async refreshWords(): Promise<void> {
    await this.#primary.query('REFRESH MATERIALIZED VIEW CONCURRENTLY search_words');
  }
}

/**
 * A name for a statement, the same for the same text: each connection parses and plans it once
 * (the search pool keeps one generic plan; see db/database.ts), which matters with partitions.
 * The text depends only on the query's shape (about 0.7 MB of plan each, a few dozen shapes).
 */
function statementName(text: string): string {
  return `search_${createHash('sha1').update(text).digest('base64url')}`;
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
