import { HIT_COLUMNS, type HitRow, type SearchRequest } from '../engine.ts';
import { MATCH_CAP, MAX_PAGE, MAX_TOTAL_HITS } from '../limits.ts';
import { HEADLINE_OPTIONS, type BuiltQuery } from '../terms.ts';
import { filtersOf, headline, textCondition } from './statement.ts';

/**
 * The relevance statement: one round trip for the page of hits, the facet counts and the total.
 *
 * It reads the sample first (product_search_sample: a fixed one in SAMPLE_RATE products, by a hash
 * of the id, with its own GIN index), at most SAMPLE_CAP matches. When they project well past
 * MATCH_CAP (COMMON_SAMPLE of them: 1,000 matches would give 62.5 ± 7.7), the word is common:
 * hits, facets and total come from the sample alone, scaled, and say they are estimates. A word
 * found in 400,000 products then costs what one found in 25,000 does, and every common word reads
 * the same small, cached partition. Otherwise the whole catalogue is read, up to MATCH_CAP + 1
 * matches: below the cap every count is exact; above (a word in 1,000 to 1,700 products), the
 * sample's count gives the total.
 */

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
export const SAMPLE_CAP = 500;
/**
 * Matches in the sample from which a word is common (more than MATCH_CAP matches in all): 109
 * project to 1,744, and a word in 1,000 products has 62.5 ± 7.7 in the sample (6 standard
 * deviations below).
 */
export const COMMON_SAMPLE = 109;
/** Title matches (name, brand, category) read on top when the cap is reached, so they rank first. */
const TITLE_CAP = 2_000;
/** ... when the matches read hold fewer title matches than this (the longest page). */
const TITLE_FILL = 100;
/** Prefix completions are ranked by rarity for at most this many matches (a lookup per word of each). */
const RARITY_CAP = 1_000;

/** What the relevance statement answers (one row). */
export interface RelevanceRow {
  /** Matches read: the sample's (common words) or the whole catalogue's (up to MATCH_CAP + 1). */
  matched: number;
  /** Matches read in the sample (up to SAMPLE_CAP + 1), the block of the last, the sample's size. */
  sampled: number;
  sample_last_block: number | null;
  sample_blocks: number;
  /** Counts by filter key ('c:<id>', 'b:<brand>', 'p:<bucket>', 's:<0|1>'): product_search's keys. */
  facets: Record<string, number> | null;
  hits: HeadlinedRow[] | null;
}

export type HeadlinedRow = HitRow & { name_headline: string };

/** The parts of the statement that depend on the query's shape. */
interface Shape {
  query: BuiltQuery;
  /** Every condition on product_search `s`: the words' and the filters'. */
  where: string;
  /** The filters' conditions alone. */
  filters: string[];
  /** What ranks a match, computed as it is read, and the names they are kept under. */
  keys: string;
  kept: string;
  /** The word is common: the sample answers alone. */
  common: string;
  /** The prefix's parameter, or null. */
  completing: string | null;
  page: { limit: string; offset: string; end: string };
}

export function relevanceStatement(request: SearchRequest, query: BuiltQuery): { text: string; values: unknown[] } {
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
  const page = { limit: param(request.limit), offset: param(offset), end: param(offset + request.limit) };
  // What ranks a match, computed as it is read (the documents are not kept): all the words in
  // the title (name, brand, category), all of them whole, then their weight. With a prefix, the
  // title's words too, for how rare the word the prefix completes to is (see rankedCte).
  const keys = [
    tsquery === null ? 'false AS in_title' : 's.title_doc @@ (SELECT q FROM query) AS in_title',
    exact === null ? 'false AS whole' : 's.doc @@ (SELECT exact FROM query) AS whole',
    tsquery === null ? '0::real AS rank' : `ts_rank('{0.1, 0.2, 0.4, 1.0}', s.doc, (SELECT q FROM query)) AS rank`,
    ...(prefix === null ? [] : ['s.title_doc']),
  ].join(', ');
  const kept = ['id', 'in_title', 'whole', 'rank', ...(prefix === null ? [] : ['title_doc'])].join(', ');
  const common = `(SELECT n FROM sampled) >= ${COMMON_SAMPLE}`;
  const shape: Shape = { query, where, filters: filters.where, keys, kept, common, completing, page };
  const text = `
      WITH ${[matchesCtes(shape), candidatesCtes(shape), rankedCte(shape), FACETS_CTES].join(',\n')}
      ${finalSelect(shape)}`;
  return { text, values };
}

/** The query, the sample's matches and, unless the word is common, the other partitions' too. */
function matchesCtes({ where, keys, kept, common, completing }: Shape): string {
  return `query AS MATERIALIZED (
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
      stats AS (SELECT count(*)::int AS n, (count(*) FILTER (WHERE in_title))::int AS titled FROM matched)`;
}

/** The matches to rank: those read, title matches they missed, and the first of the rest. */
function candidatesCtes({ query, where, filters, keys, kept, common, page }: Shape): string {
  return `candidates AS (
        SELECT ${kept} FROM matched
        ${
          query.tsquery === null
            ? ''
            : `UNION ALL
        -- Common or past the cap, title matches the matches read missed, which rank first: read
        -- only when their own title matches are fewer than a long page (whatever the page asked
        -- for, so that every page ranks the same hits).
        SELECT ${kept} FROM (
          SELECT s.id, ${keys} FROM product_search s
           WHERE (${common} OR (SELECT n FROM stats) > ${MATCH_CAP}) AND (SELECT titled FROM stats) < ${TITLE_FILL}
             AND s.title_doc @@ (SELECT q FROM query) AND ${[...filters, 'true'].join(' AND ')}
           LIMIT ${TITLE_CAP}
        ) t WHERE t.id NOT IN (SELECT id FROM matched)`
        }
      ),
      -- Common, and a page past what the sample and those title matches hold: the other
      -- partitions' first matches follow them, ranked among themselves (as many whatever the
      -- page, which ranks the same hits every time), enough to reach the last page.
      more AS (
        SELECT ${kept} FROM (${REST_PARTITIONS.map((table) => `SELECT s.id, ${keys} FROM ${table} s WHERE ${where}`).join(' UNION ALL ')}) r
         WHERE ${common} AND (SELECT count(*) FROM candidates) < ${page.end} AND r.id NOT IN (SELECT id FROM candidates)
         LIMIT ${MAX_TOTAL_HITS + MAX_PAGE}
      )`;
}

/** The page, in relevance order. */
function rankedCte({ query, kept, common, page }: Shape): string {
  return `ranked AS (
        SELECT c.id, c.after, c.in_title, c.whole, c.rank,
               -- How rare the word the prefix completes to is (fewest products): the more specific
               -- match first, as a rarer word weighs more in BM25. 'bri' puts Brixolt before Brick.
               -- Only for up to RARITY_CAP matches: past that it costs more than the rest of the search.
               ${
                 query.prefix === null
                   ? 'NULL::integer'
                   : `CASE WHEN ${common} OR (SELECT n FROM stats) > ${RARITY_CAP} THEN NULL ELSE (
                 SELECT min(((SELECT completions FROM query) ->> l.word)::int) FROM unnest(tsvector_to_array(c.title_doc)) AS l(word)
               ) END`
               } AS rarity
          FROM (SELECT false AS after, ${kept} FROM candidates UNION ALL SELECT true, ${kept} FROM more) c
         ORDER BY c.after, in_title DESC, whole DESC, rarity ASC NULLS LAST, rank DESC, c.id
         LIMIT ${page.limit} OFFSET ${page.offset}
      )`;
}

/**
 * Facet counts: a product's keys are its category, its price keys, that category's ancestors, its
 * brand (if any), its price bucket and its stock, in that order (product_search_rows(),
 * migrations/0008). One pass counts the category, the brand, the bucket and the stock by position;
 * each category then adds its count to its ancestors (the path of one of its products).
 */
const FACETS_CTES = `grouped AS (
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
      )`;

/** The counts, the facets and the page's products, in one row. */
function finalSelect({ query }: Shape): string {
  return `SELECT (SELECT n FROM stats) AS matched, (SELECT n FROM sampled) AS sampled,
             (SELECT last_block FROM sampled) AS sample_last_block,
             (pg_relation_size('product_search_sample') / current_setting('block_size')::int)::int AS sample_blocks,
             (SELECT json_object_agg(key, n) FROM facets) AS facets,
             (SELECT json_agg(h ORDER BY h.ord) FROM (
                SELECT row_number() OVER (ORDER BY r.after, r.in_title DESC, r.whole DESC, r.rarity ASC NULLS LAST, r.rank DESC, r.id) AS ord,
                       ${HIT_COLUMNS},
                       ${headline(query.tsquery === null ? null : '(SELECT q FROM query)', '(SELECT headline FROM query)')} AS name_headline
                  FROM ranked r JOIN products p ON p.id = r.id
             ) h) AS hits`;
}
