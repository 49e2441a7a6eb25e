import { LRUCache } from 'lru-cache';
import type { Meilisearch, SearchParams, SearchResponse } from 'meilisearch';
import type pg from 'pg';
import {
  HIT_COLUMNS,
  hitOf,
  noFacets,
  type HitRow,
  type IndexedSearchEngine,
  type SearchFacets,
  type SearchRequest,
  type SearchResult,
} from '../engine.ts';
import type { SearchHit, SearchSort } from '../schemas.ts';
import { MARK_END, MARK_START, markHtml, queryTerms } from '../terms.ts';
import type { ProductDocument } from './documents.ts';
import type { SearchSync } from './sync.ts';

/** The listing's orders, as Meilisearch sorts (ties by id, as the listing's keyset). */
const SORTS: Record<Exclude<SearchSort, 'relevance'>, string[]> = {
  newest: ['created_at:desc', 'id:desc'],
  price_asc: ['price_amount:asc', 'id:asc'],
  price_desc: ['price_amount:desc', 'id:desc'],
  name_asc: ['name:asc', 'id:asc'],
};

/** How often an index not built yet is asked again whether it is (once built, it stays so). */
const READY_CHECK_MS = 1_000;
/** How often the index's lag is read to decide whether it is too far behind (one small query). */
const LAG_CHECK_MS = 1_000;

const FACETS = ['category_ids', 'brand', 'price_bucket', 'in_stock'];

/** Meilisearch's facet distribution (attribute → value → count), typed. */
function facetsOf(distribution: Record<string, Record<string, number>>): SearchFacets {
  const facets = noFacets();
  const entries = (attribute: string) => Object.entries(distribution[attribute] ?? {});
  for (const [id, count] of entries('category_ids')) facets.categories.set(Number(id), count);
  for (const [brand, count] of entries('brand')) facets.brands.set(brand, count);
  for (const [bucket, count] of entries('price_bucket')) facets.prices.set(Number(bucket), count);
  for (const [inStock, count] of entries('in_stock')) {
    if (inStock === 'true') facets.availability.inStock = count;
    else facets.availability.outOfStock = count;
  }
  return facets;
}

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
export class MeiliSearchEngine implements IndexedSearchEngine {
  readonly name = 'meilisearch';
  readonly #pool: pg.Pool;
  readonly #client: Meilisearch;
  readonly #sync: SearchSync;
  /**
   * The index's state, read at most once a second however many searches ask (concurrent asks
   * share one read): whether it is built, asked again until it is (then never: an index once
   * built stays so, swaps included), and how far behind the database it is.
   */
  readonly #ready: LRUCache<'index', boolean>;
  readonly #lag: LRUCache<'index', number>;

  constructor(pool: pg.Pool, client: Meilisearch, sync: SearchSync) {
    this.#pool = pool;
    this.#client = client;
    this.#sync = sync;
    this.#ready = new LRUCache({
      max: 1,
      ttl: READY_CHECK_MS,
      fetchMethod: async (_key, _stale, { options }) => {
        const ready = await sync.isReady();
        // A ttl of 0 never goes stale.
        if (ready) options.ttl = 0;
        return ready;
      },
    });
    this.#lag = new LRUCache({ max: 1, ttl: LAG_CHECK_MS, fetchMethod: () => sync.lagMs() });
  }

  async isReady(): Promise<boolean> {
    return (await this.#ready.fetch('index')) ?? false;
  }

  async lagMs(): Promise<number> {
    return (await this.#lag.fetch('index')) ?? 0;
  }

  async search(request: SearchRequest): Promise<SearchResult> {
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
    const facets = facetsOf(response.facetDistribution ?? {});
    // Every match is in stock or not: the two counts add up to the total, which Meilisearch's own
    // totalHits would cap at maxTotalHits.
    const total = facets.availability.inStock + facets.availability.outOfStock;
    return { hits, total, totalExact: true, facets, words, corrected: false, relaxed, lagMs };
  }

  async #products(ids: number[]): Promise<ProductRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.#pool.query<ProductRow>(
      `SELECT ${HIT_COLUMNS}
         FROM products p WHERE p.id = ANY($1::bigint[]) AND p.status = 'active'`,
      [ids],
    );
    return rows;
  }
}
