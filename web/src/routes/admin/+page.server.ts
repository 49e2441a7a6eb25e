import { api } from '$lib/server/api';
import { adminKey, bearer, signedOut } from '$lib/server/admin';
import { call, unavailable } from '$lib/server/catalogue';
import type { PageServerLoad } from './$types';

const PER_PAGE = 20;

/**
 * Find products by name (search, paged), or exactly by SKU, id or slug on the first page: the
 * stock levels endpoint reads any product by SKU or id, drafts and archived included.
 */
export const load = (async (event) => {
  const key = adminKey(event.cookies);
  const q = (event.url.searchParams.get('q') ?? '').trim().slice(0, 200);
  const page = Math.max(1, Number.parseInt(event.url.searchParams.get('page') ?? '1', 10) || 1);
  if (!q) return { q, page, rows: [], totalPages: 0 };

  const exact = page === 1 && q.length <= 64;
  const id = /^\d{1,15}$/.test(q) ? Number(q) : undefined;
  const headers = bearer(key, event.getClientAddress());
  const [found, levels, bySlug] = await Promise.all([
    call(event, () => api.GET('/v1/search', { params: { query: { q, page, limit: PER_PAGE } }, headers })),
    exact
      ? call(event, () =>
          api.GET('/v1/stock-levels', { params: { query: { sku: [q], ...(id ? { id: [id] } : {}) } }, headers }),
        )
      : undefined,
    exact && /^[a-z0-9-]+$/i.test(q)
      ? call(event, () =>
          api.GET('/v1/products/{idOrSlug}', { params: { path: { idOrSlug: q.toLowerCase() } }, headers }),
        )
      : undefined,
  ]);
  if (levels?.response.status === 401) signedOut(event.cookies);
  if (!found.data) unavailable(event);
  const rows = found.data.hits.map(({ id, sku, name, brand, stock }) => ({ id, sku, name, brand, stock }));
  const direct = [...(levels?.data?.data ?? []), ...(bySlug?.data ? [bySlug.data] : [])];
  for (const hit of direct.reverse()) {
    if (!rows.some((r) => r.id === hit.id)) {
      rows.unshift({ id: hit.id, sku: hit.sku, name: hit.name, brand: hit.brand, stock: hit.stock });
    }
  }
  return { q, page, rows, totalPages: found.data.total_pages };
}) satisfies PageServerLoad;
