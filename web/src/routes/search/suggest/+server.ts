import { json } from '@sveltejs/kit';
import { api, forwardedFor } from '$lib/server/api';
import type { RequestHandler } from './$types';

/** Suggestions as the shopper types: a handful of names, one small answer per request. */
export const GET: RequestHandler = async ({ url, getClientAddress }) => {
  const q = (url.searchParams.get('q') ?? '').trim().slice(0, 100);
  if (q.length < 2) return json([]);
  const { data } = await api
    .GET('/v1/search', { params: { query: { q, limit: 5 } }, headers: forwardedFor(getClientAddress()) })
    .catch(() => ({ data: undefined }));
  return json(data?.hits.map(({ name, slug }) => ({ name, slug })) ?? [], {
    headers: { 'cache-control': 'public, max-age=60' },
  });
};
