import type { CategoryTree } from '../catalogue/category-tree.ts';
import { notFound } from '../http/problem.ts';
import type { EngineName, Fallback, IndexedSearchEngine, SearchEngine, SearchRequest, SearchResult } from './engine.ts';
import { facetAnswer, type FacetAnswer } from './facets.ts';

/** After the index's engine fails, the database's answers for this long, rather than each search waiting to fail too. */
const RESUME_AFTER_MS = 5_000;

export interface SearchLog {
  warn(object: object, message: string): void;
}

/** A search as asked: the category by its slug. */
export type SearchAsked = Omit<SearchRequest, 'category'> & { category?: string };

export interface SearchAnswer extends Omit<SearchResult, 'facets'> {
  engine: EngineName;
  /** Why the database's engine answered although an index is configured; null otherwise. */
  fallback: Fallback | null;
  facets: FacetAnswer;
}

export interface SearchServiceOptions {
  /** Always able to answer: it searches the catalogue itself. */
  database: SearchEngine;
  /** Asked first when configured, while it is up, built and not too far behind. */
  index?: IndexedSearchEngine;
  /** An index further behind the database than this answers no search. */
  maxLagMs?: number;
  categories: () => Promise<CategoryTree>;
  /** The clock (tests move it). */
  now?: () => number;
}

/**
 * The choice of engine: the index's (Meilisearch) when configured and able to answer, the
 * database's (PostgreSQL) otherwise, saying why. An index answers no search while it is being
 * built for the first time, nor while it is further behind the database than `maxLagMs` (its
 * indexer failing, or catching up after a big import): PostgreSQL, always current, does. A failed
 * search is answered by PostgreSQL, which answers the next RESUME_AFTER_MS too.
 */
export class SearchService {
  readonly #options: SearchServiceOptions;
  readonly #now: () => number;
  #resumeAt = -Infinity;

  constructor(options: SearchServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Why the database's engine must answer now although an index is configured, or null. */
  async fallback(): Promise<Fallback | null> {
    const { index, maxLagMs = Infinity } = this.#options;
    if (!index) return null;
    if (this.#now() < this.#resumeAt) return 'meilisearch_unavailable';
    if (!(await index.isReady())) return 'index_not_ready';
    return (await index.lagMs()) > maxLagMs ? 'index_behind' : null;
  }

  /** Refuses an unknown category (404, as the listing does); logs a failed index search on `log`. */
  async search(asked: SearchAsked, log: SearchLog): Promise<SearchAnswer> {
    const tree = await this.#options.categories();
    const category = asked.category === undefined ? undefined : tree.bySlug.get(asked.category);
    if (asked.category !== undefined && !category) throw notFound(`No category with slug '${asked.category}'`);
    const request: SearchRequest = { ...asked, category: category?.id };
    const { index, database } = this.#options;
    let fallback = await this.fallback();
    let answered: { engine: EngineName; result: SearchResult } | undefined;
    if (index && fallback === null) {
      try {
        answered = { engine: index.name, result: await index.search(request) };
      } catch (error) {
        this.#resumeAt = this.#now() + RESUME_AFTER_MS;
        fallback = 'meilisearch_unavailable';
        log.warn({ err: error }, 'Meilisearch search failed: PostgreSQL answers');
      }
    }
    answered ??= { engine: database.name, result: await database.search(request) };
    const { facets, ...result } = answered.result;
    return { ...result, engine: answered.engine, fallback, facets: facetAnswer(facets, tree, category?.id) };
  }
}
