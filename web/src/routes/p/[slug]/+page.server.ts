import { error } from '@sveltejs/kit';
import { translator } from '$lib/i18n';
import { api } from '$lib/server/api';
import { call, unavailable } from '$lib/server/catalogue';
import type { PageServerLoad } from './$types';

/** One product by its slug, with its live stock. */
export const load = (async (event) => {
  const { data, response } = await call(event, (headers) =>
    api.GET('/v1/products/{idOrSlug}', { params: { path: { idOrSlug: event.params.slug } }, headers }),
  );
  if (!data) {
    if (response.status === 404 || response.status === 400) error(404, translator(event.locals.lang)('notFound'));
    unavailable(event);
  }
  // Availability is live: a browser asks again each time (the API's own micro-cache keeps that cheap).
  event.setHeaders({ 'cache-control': 'no-cache' });
  return { product: data };
}) satisfies PageServerLoad;
