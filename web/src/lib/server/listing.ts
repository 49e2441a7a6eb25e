import { error, type RequestEvent } from '@sveltejs/kit';
import { LRUCache } from 'lru-cache';
import { translator } from '$lib/i18n';
import { api } from './api';
import {
  call,
  categoryTree,
  CATALOGUE_CURRENCY,
  filtersFrom,
  hasFilters,
  PAGE_SIZE,
  SORTS,
  unavailable,
  type Category,
  type Filters,
  type Sort,
} from './catalogue';

type Event = Pick<RequestEvent, 'url' | 'getClientAddress' | 'locals' | 'setHeaders'>;

type FacetsQuery = { event: Event; category: string | undefined; filters: Filters };

/** The search API's facets for a category and filters, asked for one hit: counts and brands only. */
async function searchFacets({ event, category, filters }: FacetsQuery) {
  const { data } = await call(event, (headers) =>
    api.GET('/v1/search', { params: { query: { category, ...filters, limit: 1 } }, headers }),
  );
  // An answer other than 200 is not kept for the period: the next shopper asks again.
  if (!data) throw new Error('search facets unavailable');
  return { total: data.total, brands: data.facets.brand.map((b) => b.name) };
}

/** Every shopper shares a category's facets for half a minute: one call per category and filters at a time. */
const facetsOf = new LRUCache<string, Awaited<ReturnType<typeof searchFacets>>, FacetsQuery>({
  max: 1_000,
  ttl: 30_000,
  fetchMethod: (_key, _stale, { context }) => searchFacets(context),
});

/** Without facets (search failing) the page still shows, with no brand choices or estimated count. */
const facets = (event: Event, category: string | undefined, filters: Filters) =>
  facetsOf.fetch(JSON.stringify([category, filters]), { context: { event, category, filters } }).catch(() => undefined);

/**
 * One page of a listing, named by its URL alone: the category (from the route), the filters,
 * the sort and the API's opaque cursor. A stale or edited cursor is a 400 page that leads back
 * to the first page of the same listing.
 */
export async function loadListing(event: Event, categorySlug?: string, { brands: withBrands = true } = {}) {
  const { url } = event;
  const sortParam = url.searchParams.get('sort');
  const sort: Sort = SORTS.includes(sortParam as Sort) ? (sortParam as Sort) : 'newest';
  const cursor = url.searchParams.get('cursor') || undefined;
  const filters = filtersFrom(url);
  const filtered = hasFilters(filters);

  const [tree, page, counted, brandOptions] = await Promise.all([
    categoryTree(event),
    call(event, (headers) =>
      api.GET('/v1/products', {
        params: { query: { limit: PAGE_SIZE, sort, cursor, category: categorySlug, ...filters } },
        headers,
      }),
    ),
    // The tree counts a bare category exactly; with filters, search estimates the count.
    filtered ? facets(event, categorySlug, filters) : undefined,
    withBrands ? facets(event, categorySlug, {} as Filters) : undefined,
  ]);

  const category = categorySlug ? tree.find((c) => c.slug === categorySlug) : undefined;
  if (categorySlug && !category) error(404, translator(event.locals.lang)('notFound'));

  if (!page.data) {
    if (page.response.status === 400 && cursor) {
      const first = new URL(url);
      first.searchParams.delete('cursor');
      error(400, { message: translator(event.locals.lang)('badPage'), firstPage: first.pathname + first.search });
    }
    if (page.response.status === 400) error(400, page.error?.detail ?? 'Bad request');
    unavailable(event);
  }

  let count: { value: number; exact: boolean } | undefined;
  if (counted) count = counted.total;
  else if (category) count = { value: category.product_count, exact: true };
  else
    count = {
      value: tree.filter((c) => c.parent_id === null).reduce((sum, c) => sum + c.product_count, 0),
      exact: true,
    };

  const brands = [...new Set([...(filters.brand ?? []), ...(brandOptions?.brands ?? [])])].sort((a, b) =>
    a.localeCompare(b),
  );

  event.setHeaders({ 'cache-control': 'public, max-age=10' });
  return {
    category: category ? { ...category, path: ancestry(tree, category) } : undefined,
    children: category ? tree.filter((c) => c.parent_id === category.id) : tree.filter((c) => c.parent_id === null),
    products: page.data.data,
    next: page.data.next_cursor,
    prev: page.data.prev_cursor,
    count,
    brands,
    currency: CATALOGUE_CURRENCY,
    query: {
      sort,
      brand: filters.brand ?? [],
      min: url.searchParams.get('min') ?? '',
      max: url.searchParams.get('max') ?? '',
      in_stock: filters.in_stock === true,
    },
  };
}

/** The category's ancestors, root first, for its breadcrumbs. */
function ancestry(tree: Category[], category: Category): Pick<Category, 'slug' | 'name'>[] {
  const byId = new Map(tree.map((c) => [c.id, c]));
  const path: Pick<Category, 'slug' | 'name'>[] = [];
  for (let node: Category | undefined = category; node; node = node.parent_id ? byId.get(node.parent_id) : undefined) {
    path.unshift({ slug: node.slug, name: node.name });
  }
  return path;
}
