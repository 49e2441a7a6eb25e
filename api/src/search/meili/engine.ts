import type { Meilisearch, SearchParams, SearchResponse } from 'meilisearch';
import type pg from 'pg';
import { hitOf, type HitRow, type SearchRequest, type SearchResult } from '../pg-engine.ts';
import type { SearchHit, SearchSort } from '../schemas.ts';
import { MARK_END, MARK_START, markHtml, queryTerms } from '../terms.ts';
import type { ProductDocument } from './documents.ts';
import type { SearchSync } from './sync.ts';

/** A result from Meilisearch carries how far its index is behind the database. */
export interface MeiliResult extends SearchResult {
  lagMs: number;
}

/** The listing's orders, as Meilisearch sorts (ties by id, as the listing's keyset). */
const SORTS: Record<Exclude<SearchSort, 'relevance'>, string[]> = {
  newest: ['created_at:desc', 'id:desc'],
  price_asc: ['price_amount:asc', 'id:asc'],
  price_desc: ['price_amount:desc', 'id:desc'],
  name_asc: ['name:asc', 'id:asc'],
};

/** Why a search configured for Meilisearch was answered by PostgreSQL. */
export type Fallback = 'meilisearch_unavailable' | 'index_not_ready' | 'index_behind';

const READY_CHECK_MS = 1_000;
/** How often the index's lag is read to decide whether it is too far behind (one small query). */
const LAG_CHECK_MS = 1_000;
const RESUME_AFTER_MS = 5_000;

const FACETS = ['category_ids', 'brand', 'price_bucket', 'in_stock'];

/** The filters as Meilisearch filter expressions (all required: the array form is an AND). */
function filtersOf(request: SearchRequest): string[] {
  const filter: string[] = [];
  if (request.category !== undefined) filter.push(`category_ids = ${request.category}`);
  // Quoted as JSON strings: Meilisearch's filter syntax escapes `"` and `\` the same way.
  if (request.brands?.length) filter.push(`brand IN [${request.brands.map((b) => JSON.stringify(b)).join(', ')}]`);
  if (request.minPrice !== undefined) filter.push(`price_amount >= ${request.minPrice}`);
  if (request.maxPrice !== undefined) filter.push(`price_amount <= ${request.maxPrice}`);
  if (request.inStock !== undefined) filter.push(`in_stock = ${request.inStock}`);
  return filter;
}

const stripMarks = (text: string) => text.replaceAll(MARK_START, '').replaceAll(MARK_END, '');

type ProductRow = HitRow & { id: string };

/**
 * Search through Meilisearch: the index finds and orders the ids, counts the facets; the page's
 * products are then read from PostgreSQL, so a hit always shows the live price and stock, and a
 * product archived since the index last heard of it is left out rather than shown.
 */
export class MeiliSearchEngine {
  readonly #pool: pg.Pool;
  readonly #client: Meilisearch;
  readonly #sync: SearchSync;
  #ready = { value: false, checkedAt: -Infinity };
  #lag = { ms: 0, checkedAt: -Infinity };
  readonly #maxLagMs: number;
  /** After a failure, searches go to PostgreSQL until then, rather than each waiting to fail. */
  #resumeAt = -Infinity;

  /**
   * `maxLagMs`: an index further behind the database than this (its indexer failing, or far behind
   * a big import) answers no search: PostgreSQL, always current, does until it catches up.
   */
  constructor(pool: pg.Pool, client: Meilisearch, sync: SearchSync, maxLagMs: number) {
    this.#pool = pool;
    this.#maxLagMs = maxLagMs;
    this.#client = client;
    this.#sync = sync;
  }

  /** Why PostgreSQL must answer instead, or null when Meilisearch can. */
  async unavailable(): Promise<Fallback | null> {
    const now = performance.now();
    if (now < this.#resumeAt) return 'meilisearch_unavailable';
    if (!this.#ready.value && now - this.#ready.checkedAt > READY_CHECK_MS) {
      this.#ready = { value: await this.#sync.isReady(), checkedAt: now };
    }
    if (!this.#ready.value) return 'index_not_ready';
    if (now - this.#lag.checkedAt > LAG_CHECK_MS) {
      // Checked first, so that searches arriving meanwhile do not each read the lag too.
      this.#lag.checkedAt = now;
      this.#lag.ms = await this.#sync.lagMs();
    }
    return this.#lag.ms > this.#maxLagMs ? 'index_behind' : null;
  }

  /** A search failed: PostgreSQL answers for the next few seconds. */
  failed(): void {
    this.#resumeAt = performance.now() + RESUME_AFTER_MS;
  }

  async search(request: SearchRequest): Promise<MeiliResult> {
    const words = queryTerms(request.q);
    const params: SearchParams = {
      filter: filtersOf(request),
      facets: FACETS,
      page: request.page,
      hitsPerPage: request.limit,
      // The name too: a highlighted attribute is only sure to be in _formatted when retrieved.
      attributesToRetrieve: ['id', 'name'],
      attributesToHighlight: ['name'],
      highlightPreTag: MARK_START,
      highlightPostTag: MARK_END,
      matchingStrategy: 'all',
      ...(request.sort && request.sort !== 'relevance' ? { sort: SORTS[request.sort] } : {}),
    };
    const index = this.#client.index<ProductDocument>(this.#sync.indexUid);
    // Only the words reach Meilisearch: its quotes (phrases) and minus (exclusion) are not offered.
    const q = words.join(' ');
    let response: SearchResponse<ProductDocument> = await index.search(q, params);
    let relaxed = false;
    if (response.hits.length === 0 && (response.totalHits ?? 0) === 0 && words.length > 1) {
      response = await index.search(q, { ...params, matchingStrategy: 'last' });
      relaxed = true;
    }
    const ids = response.hits.map((hit) => hit.id);
    const [rows, lagMs] = await Promise.all([this.#products(ids), this.#sync.lagMs()]);
    const byId = new Map(rows.map((row) => [Number(row.id), row]));
    const hits: SearchHit[] = [];
    for (const hit of response.hits) {
      const row = byId.get(hit.id);
      if (!row) continue;
      const marked = hit._formatted?.name;
      const name = stripMarks(row.name);
      // The index's name, marked, while it is still the product's name.
      hits.push(hitOf(row, markHtml(typeof marked === 'string' && stripMarks(marked) === name ? marked : name)));
    }
    const facets = new Map<string, number>();
    const distribution = response.facetDistribution ?? {};
    const prefixes: Record<string, string> = { category_ids: 'c', brand: 'b', price_bucket: 'p' };
    for (const [facet, values] of Object.entries(distribution)) {
      for (const [value, count] of Object.entries(values)) {
        if (facet === 'in_stock') facets.set(`s:${value === 'true' ? 1 : 0}`, count);
        else if (prefixes[facet]) facets.set(`${prefixes[facet]}:${value}`, count);
      }
    }
    // Every match is in stock or not: the two counts add up to the total, which Meilisearch's own
    // totalHits would cap at maxTotalHits.
    const total = (facets.get('s:1') ?? 0) + (facets.get('s:0') ?? 0);
    return { hits, total, totalExact: true, facets, words, corrected: false, relaxed, lagMs };
  }

  async #products(ids: number[]): Promise<ProductRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.#pool.query<ProductRow>(
      `SELECT p.id, p.sku, p.slug, p.name, p.brand, p.category_id, p.price_amount, p.currency,
              p.images -> 0 ->> 'url' AS image_url, p.images -> 0 ->> 'alt' AS image_alt, p.stock
         FROM products p WHERE p.id = ANY($1::bigint[]) AND p.status = 'active'`,
      [ids],
    );
    return rows;
  }
}
