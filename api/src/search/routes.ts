import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { invalidParam } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import type { Fallback } from './meili/engine.ts';
import {
  bucketOf,
  categoryFacets,
  MATCH_CAP,
  MAX_TOTAL_HITS,
  PgSearch,
  PRICE_BOUNDS,
  type SearchRequest,
  type SearchResult,
} from './pg-engine.ts';
import { SearchQuery, SearchResults } from './schemas.ts';

const WORDS_REFRESH_MS = 10 * 60_000;

/** `GET /v1/search`: full-text search with facets, by Meilisearch when configured (meili/), else PostgreSQL (pg-engine.ts). */
export const searchRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool; primary: pg.Pool }> = async (
  app,
  { pool, primary },
) => {
  // Searches are public reads (the read replica, when there is one); the words are rebuilt on the
  // primary, a replica being read-only.
  const engine = new PgSearch(pool, primary);
  // The words typos are corrected against follow the catalogue every few minutes (and after a
  // seed): a word new since then is found exactly, only not yet as a correction.
  const refresh = setInterval(() => {
    engine.refreshWords().catch((error: unknown) => app.log.warn({ err: error }, 'search words refresh failed'));
  }, WORDS_REFRESH_MS);
  refresh.unref();
  // A catalogue migrated to search (or loaded without the seed) has no words yet: build them now,
  // in the background, rather than 10 minutes from now.
  let first: Promise<void> | undefined;
  app.addHook('onReady', async () => {
    first = primary
      .query<{ empty: boolean }>(
        'SELECT NOT EXISTS (SELECT 1 FROM search_words) AND EXISTS (SELECT 1 FROM product_search) AS empty',
      )
      .then(({ rows }) => (rows[0]?.empty ? engine.refreshWords() : undefined))
      .catch((error: unknown) => app.log.warn({ err: error }, 'search words refresh failed'));
  });
  app.addHook('onClose', async () => {
    clearInterval(refresh);
    await first;
  });

  app.get(
    '/v1/search',
    {
      schema: {
        operationId: 'searchProducts',
        tags: ['catalogue'],
        summary: 'Search active products, with facet counts',
        description:
          'Relevance first: products with every word in their name, brand or category, then whole-word matches, then by weight (name > brand > category > description). Accents are ignored, the last word also matches the start of a word of a name, brand or category, and a mistyped word is corrected. With no product having every word, products with some of them (`query.relaxed`). ' +
          `Up to ${MATCH_CAP.toLocaleString('en')} matches, total and facet counts are exact; beyond, estimates (\`total.exact\`, \`facets.exact\`).`,
        querystring: SearchQuery,
        response: { 200: SearchResults, ...problemResponses(400) },
      },
    },
    async (request) => {
      const query = request.query;
      const page = query.page ?? 1;
      const limit = query.limit ?? 24;
      if ((page - 1) * limit >= MAX_TOTAL_HITS) {
        throw invalidParam({
          in: 'query',
          name: 'page',
          detail: `relevance pages reach the first ${MAX_TOTAL_HITS} hits: at most page ${Math.ceil(MAX_TOTAL_HITS / limit)} with limit ${limit}`,
        });
      }
      if (query.min_price !== undefined && query.max_price !== undefined && query.min_price > query.max_price) {
        throw invalidParam({ in: 'query', name: 'max_price', detail: 'must be at least min_price' });
      }
      const tree = await app.catalogue.categories.tree();
      const category = query.category === undefined ? undefined : tree.bySlug.get(query.category);
      if (query.category !== undefined && !category) {
        throw invalidParam({ in: 'query', name: 'category', detail: `no category with slug '${query.category}'` });
      }
      const searched: SearchRequest = {
        q: query.q ?? '',
        category: category?.id,
        brands: query.brand,
        minPrice: query.min_price,
        maxPrice: query.max_price,
        inStock: query.in_stock,
        sort: query.sort ?? 'relevance',
        page,
        limit,
      };
      // Meilisearch when configured and able to answer; PostgreSQL otherwise, saying why.
      let result: SearchResult | undefined;
      let answered: 'meilisearch' | 'postgres' = 'postgres';
      let fallback: Fallback | null = null;
      let lagMs = 0;
      const meili = app.meili?.engine;
      if (meili) {
        fallback = await meili.unavailable();
        if (fallback === null) {
          try {
            const found = await meili.search(searched);
            [result, answered, lagMs] = [found, 'meilisearch', found.lagMs];
          } catch (error) {
            meili.failed();
            fallback = 'meilisearch_unavailable';
            request.log.warn({ err: error }, 'Meilisearch search failed: PostgreSQL answers');
          }
        }
      }
      result ??= await engine.search(searched);
      const count = (key: string) => result.facets.get(key) ?? 0;
      const brands = [...result.facets]
        .filter(([key]) => key.startsWith('b:'))
        .map(([key, n]) => ({ name: key.slice(2), count: n }))
        .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
        .slice(0, 20);
      const bounds = [0, ...PRICE_BOUNDS];
      return {
        engine: answered,
        fallback,
        freshness: { lag_ms: lagMs },
        query: { q: query.q ?? '', words: result.words, corrected: result.corrected, relaxed: result.relaxed },
        hits: result.hits,
        page,
        limit,
        total: { value: result.total, exact: result.totalExact },
        total_pages: Math.ceil(Math.min(result.total, MAX_TOTAL_HITS) / limit),
        facets: {
          exact: result.totalExact,
          category: categoryFacets(result.facets, tree, category?.id),
          brand: brands,
          price: bounds
            .map((min, bucket) => ({ min, max: PRICE_BOUNDS[bucket] ?? null, count: count(`p:${bucketOf(min)}`) }))
            .filter((facet) => facet.count > 0),
          availability: { in_stock: count('s:1'), out_of_stock: count('s:0') },
        },
      };
    },
  );
};
