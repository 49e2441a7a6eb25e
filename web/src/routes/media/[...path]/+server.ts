import { apiBaseUrl, forwardedFor } from '$lib/server/api';
import type { RequestHandler } from './$types';

/**
 * Product images the API serves (the demo's placeholders) reach the browser through the
 * storefront's own origin, so the API need not be exposed to shoppers.
 */
export const GET: RequestHandler = async ({ params, fetch, getClientAddress }) => {
  const upstream = await fetch(`${apiBaseUrl}/media/${params.path}`, { headers: forwardedFor(getClientAddress()) });
  return new Response(upstream.body, {
    status: upstream.status,
    headers: {
      'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
      'cache-control': upstream.headers.get('cache-control') ?? 'no-store',
    },
  });
};
