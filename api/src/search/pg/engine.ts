import type pg from 'pg';
import {
  noFacets,
  hitOf,
  type SearchEngine,
  type SearchFacets,
  type SearchRequest,
  type SearchResult,
} from '../engine.ts';
import { MATCH_CAP, SAMPLE_RATE } from '../limits.ts';
import { buildQuery, markHtml, queryTerms, type BuiltQuery } from '../terms.ts';
import { COMMON_SAMPLE, relevanceStatement, SAMPLE_CAP, type RelevanceRow } from './relevance.ts';
import { sortedPage } from './sorted.ts';
import { statementName } from './statement.ts';
import { analyse, refreshWords, refreshWordsIfMissing } from './words.ts';

/**
 * Full-text search in PostgreSQL over product_search (migrations/0005, partitioned in 0007): two
 * round trips, the first to read the query's words against the catalogue's (stems, stop words,
 * typos, and the words a prefix completes to, searched as those words: see BuiltQuery.find), the
 * second for the page of hits, the facet counts and the total at once (relevance.ts), or a third
 * for a page in one of the listing's orders (sorted.ts).
 */
export class PgSearchEngine implements SearchEngine {
  readonly name = 'postgres';
  readonly #pool: pg.Pool;
  readonly #primary: pg.Pool;

  /** Searches read `pool` (the read replica's, when there is one); `primary` rebuilds the words. */
  constructor(pool: pg.Pool, primary: pg.Pool = pool) {
    this.#pool = pool;
    this.#primary = primary;
  }

  async search(request: SearchRequest): Promise<SearchResult> {
    const analysed = await analyse(this.#pool, queryTerms(request.q));
    const all = buildQuery(analysed);
    let query = all;
    let result = await this.#relevance(request, query);
    let relaxed = false;
    if (result.matched === 0 && all.words.length > 1) {
      query = buildQuery(analysed, { any: true });
      result = await this.#relevance(request, query);
      relaxed = true;
    }
    const total = estimatedTotal(result);
    const exact = total === result.matched && result.matched <= MATCH_CAP;
    const scale = exact ? 1 : total / Math.max(1, result.matched);
    let hits = result.hits ?? [];
    if (request.sort && request.sort !== 'relevance' && total > 0) {
      hits = await sortedPage(this.#pool, { ...request, sort: request.sort }, query, total);
    }
    return {
      hits: hits.map((h) => hitOf(h, markHtml(h.name_headline))),
      total,
      totalExact: exact,
      facets: facetsOf(result.facets ?? {}, (count) => (exact ? count : roughly(count * scale))),
      words: all.words,
      corrected: all.corrected,
      relaxed,
      lagMs: 0,
    };
  }

  /** Rebuilds the words typos are corrected against (after a seed or an import; now and then). */
  refreshWords(): Promise<void> {
    return refreshWords(this.#primary);
  }

  /** Builds the words now when the catalogue has products but no words yet. */
  refreshWordsIfMissing(): Promise<boolean> {
    return refreshWordsIfMissing(this.#primary);
  }

  async #relevance(request: SearchRequest, query: BuiltQuery): Promise<RelevanceRow> {
    const { text, values } = relevanceStatement(request, query);
    const { rows } = await this.#pool.query<RelevanceRow>({ name: statementName(text), text, values });
    return rows[0]!;
  }
}

/** The total: the matches read, or past the cap the sample's projection. */
function estimatedTotal(result: RelevanceRow): number {
  if (result.sampled >= COMMON_SAMPLE) {
    // The sample read to its end, or up to a block: the share of the sample it covers.
    const share =
      result.sampled > SAMPLE_CAP ? ((result.sample_last_block ?? 0) + 1) / Math.max(1, result.sample_blocks) : 1;
    return Math.max(MATCH_CAP + 1, Math.round((result.sampled * SAMPLE_RATE) / Math.min(1, share)));
  }
  if (result.matched > MATCH_CAP) return Math.max(result.matched, result.sampled * SAMPLE_RATE);
  return result.matched;
}

/** The counts by product_search's filter keys ('c:<id>', 'b:<brand>', 'p:<bucket>', 's:<0|1>'), typed. */
function facetsOf(counts: Record<string, number>, scaled: (count: number) => number): SearchFacets {
  const facets = noFacets();
  for (const [key, raw] of Object.entries(counts)) {
    const [kind, value] = [key.slice(0, 2), key.slice(2)];
    const count = scaled(raw);
    if (kind === 'c:') facets.categories.set(Number(value), count);
    else if (kind === 'b:') facets.brands.set(value, count);
    else if (kind === 'p:') facets.prices.set(Number(value), count);
    else if (key === 's:1') facets.availability.inStock = count;
    else if (key === 's:0') facets.availability.outOfStock = count;
  }
  return facets;
}

/** Two significant figures: a scaled count is an estimate, and should not look exact. */
function roughly(value: number): number {
  if (value < 100) return Math.round(value);
  const magnitude = 10 ** (Math.floor(Math.log10(value)) - 1);
  return Math.round(value / magnitude) * magnitude;
}
