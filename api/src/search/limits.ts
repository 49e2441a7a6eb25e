/**
 * The limits both engines answer within, and the PostgreSQL engine's sampling figures the
 * contract describes (search/schemas.ts). A module of constants: the schemas and the engines
 * import it, it imports nothing.
 */

/** Relevance pages reach this many hits at most (as Meilisearch's default maxTotalHits). */
export const MAX_TOTAL_HITS = 1_000;

/** The longest page (SearchQuery's limit). */
export const MAX_PAGE = 100;

/**
 * Matches the PostgreSQL engine reads per search: below, every count is exact; above, a sample
 * scaled to the estimate. Reading a match costs about 4 µs (its row, its rank, its facets): 1,000
 * take 4 ms.
 */
export const MATCH_CAP = 1_000;

/** One product in this many is in the PostgreSQL engine's sample (product_search_sample, migrations/0007). */
export const SAMPLE_RATE = 16;
