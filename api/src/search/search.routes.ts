import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { invalidParam } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import { MATCH_CAP, MAX_TOTAL_HITS } from './limits.ts';
import { SearchQuery, SearchResults } from './schemas.ts';

/** `GET /v1/search`: full-text search with facets, through the search service (service.ts). */
export const searchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/search',
    {
      schema: {
        operationId: 'searchProducts',
        tags: ['catalogue'],
        summary: 'Search active products, with facet counts',
        description:
          'Relevance first: products with every word in their name, brand or category, then whole-word matches, then by weight (name > brand > category > description). Accents are ignored, the last word also matches the start of a word of a name, brand or category, and a mistyped word is corrected. With no product having every word, products with some of them (`query.relaxed`). ' +
          `Up to ${MATCH_CAP.toLocaleString('en')} matches, total and facet counts are exact; beyond, estimates (\`total.exact\`, \`facets.exact\`). ` +
          'An unknown category is a 404, as on `GET /v1/products`.',
        querystring: SearchQuery,
        response: { 200: SearchResults, ...problemResponses(400, 404) },
      },
    },
    async (request) => {
      const { q = '', category, brand, min_price, max_price, in_stock, sort = 'relevance' } = request.query;
      const { page = 1, limit = 24 } = request.query;
      if ((page - 1) * limit >= MAX_TOTAL_HITS) {
        const last = Math.ceil(MAX_TOTAL_HITS / limit);
        const detail = `relevance pages reach the first ${MAX_TOTAL_HITS} hits: at most page ${last} with limit ${limit}`;
        throw invalidParam({ in: 'query', name: 'page', detail });
      }
      if (min_price !== undefined && max_price !== undefined && min_price > max_price) {
        throw invalidParam({ in: 'query', name: 'max_price', detail: 'must be at least min_price' });
      }
      const asked = { q, category, brands: brand, minPrice: min_price, maxPrice: max_price, inStock: in_stock };
      const found = await app.searchService.search({ ...asked, sort, page, limit }, request.log);
      return {
        engine: found.engine,
        fallback: found.fallback,
        freshness: { lag_ms: found.lagMs },
        query: { q, words: found.words, corrected: found.corrected, relaxed: found.relaxed },
        hits: found.hits,
        page,
        limit,
        total: { value: found.total, exact: found.totalExact },
        total_pages: Math.ceil(Math.min(found.total, MAX_TOTAL_HITS) / limit),
        facets: { exact: found.totalExact, ...found.facets },
      };
    },
  );
};
