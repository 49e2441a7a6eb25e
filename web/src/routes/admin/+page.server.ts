import { api } from '$lib/server/api';
import { adminKey } from '$lib/server/admin';
import { call, unavailable } from '$lib/server/catalogue';
import type { PageServerLoad } from './$types';

const PER_PAGE = 20;

/**
 * Find products by name (search), or by id or slug (an exact read). The API has no lookup by
 * SKU yet: a SKU finds a product only where search matches it.
 */
export const load = (async (event) => {
  adminKey(event.cookies);
  const q = (event.url.searchParams.get('q') ?? '').trim().slice(0, 200);
  const page = Math.max(1, Number.parseInt(event.url.searchParams.get('page') ?? '1', 10) || 1);
  if (!q) return { q, page, rows: [], totalPages: 0 };

  const exact = /^[a-z0-9-]+$/i.test(q) && page === 1;
  const [found, direct] = await Promise.all([
    call(event, (headers) => api.GET('/v1/search', { params: { query: { q, page, limit: PER_PAGE } }, headers })),
    exact
      ? call(event, (headers) =>
          api.GET('/v1/products/{idOrSlug}', { params: { path: { idOrSlug: q.toLowerCase() } }, headers }),
        )
      : undefined,
  ]);
  if (!found.data) unavailable(event);
  const rows = found.data.hits.map(({ id, sku, name, brand, stock }) => ({ id, sku, name, brand, stock }));
  const hit = direct?.data;
  if (hit && !rows.some((r) => r.id === hit.id)) {
    rows.unshift({ id: hit.id, sku: hit.sku, name: hit.name, brand: hit.brand, stock: hit.stock });
  }
  return { q, page, rows, totalPages: found.data.total_pages };
}) satisfies PageServerLoad;
