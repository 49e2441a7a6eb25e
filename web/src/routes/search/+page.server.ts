import { error } from '@sveltejs/kit';
import { api } from '$lib/server/api';
import { call, CATALOGUE_CURRENCY, filtersFrom, PAGE_SIZE, unavailable } from '$lib/server/catalogue';
import type { PageServerLoad } from './$types';

/** Search results for the URL's words, filters and page number: one page of hits with facet counts. */
export const load = (async (event) => {
  const { url } = event;
  const q = (url.searchParams.get('q') ?? '').trim().slice(0, 200);
  const category = url.searchParams.get('category') || undefined;
  const page = Math.max(1, Math.min(1000, Number.parseInt(url.searchParams.get('page') ?? '1', 10) || 1));
  const filters = filtersFrom(url);
  const {
    data,
    error: problem,
    response,
  } = await call(event, (headers) =>
    api.GET('/v1/search', { params: { query: { q, category, ...filters, page, limit: PAGE_SIZE } }, headers }),
  );
  if (!data) {
    // An unknown category is a 404 (as on the listing): the not-found page.
    if (response.status === 400 || response.status === 404) error(response.status, problem?.detail ?? 'Bad request');
    unavailable(event);
  }
  event.setHeaders({ 'cache-control': 'public, max-age=10' });
  const { hits, query, total, total_pages, facets } = data;
  return {
    q,
    page,
    search: { hits, query, total, total_pages, facets },
    currency: CATALOGUE_CURRENCY,
    active: {
      category,
      brand: filters.brand ?? [],
      min: url.searchParams.get('min'),
      max: url.searchParams.get('max'),
      in_stock: filters.in_stock,
    },
  };
}) satisfies PageServerLoad;
