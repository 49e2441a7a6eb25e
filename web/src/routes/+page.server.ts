import { error } from '@sveltejs/kit';
import { api, forwardedFor } from '$lib/server/api';
import type { PageServerLoad } from './$types';

const PAGE_SIZE = 24;

/** One page of products, the page being named by the URL's cursor alone. */
export const load = (async ({ url, setHeaders, getClientAddress }) => {
  const cursor = url.searchParams.get('cursor') ?? undefined;
  const {
    data,
    error: problem,
    response,
  } = await api
    .GET('/v1/products', { params: { query: { limit: PAGE_SIZE, cursor } }, headers: forwardedFor(getClientAddress()) })
    .catch(() => error(503, 'The catalogue is unavailable right now. Please try again in a moment.'));
  if (!data) {
    // A stale or edited cursor in a bookmarked URL: say so, and let the page offer the way back.
    if (response.status === 400) error(400, problem?.detail ?? 'This page link is no longer valid.');
    error(502, 'The catalogue is unavailable right now. Please try again in a moment.');
  }
  setHeaders({ 'cache-control': 'public, max-age=10' });
  return { products: data.data, next: data.next_cursor, prev: data.prev_cursor };
}) satisfies PageServerLoad;
