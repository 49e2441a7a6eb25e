import { error, type RequestEvent } from '@sveltejs/kit';
import { LRUCache } from 'lru-cache';
import { env } from '$env/dynamic/private';
import { translator } from '$lib/i18n';
import type { components, operations } from './api-types';
import { api, forwardedFor } from './api';

export type Category = components['schemas']['Category'];
export type ListQuery = NonNullable<operations['listProducts']['parameters']['query']>;
export type Sort = 'newest' | 'price_asc' | 'price_desc' | 'name_asc';
export const SORTS: readonly Sort[] = ['newest', 'price_asc', 'price_desc', 'name_asc'];

/** One page of products: what a listing or search page shows, and never more. */
export const PAGE_SIZE = 24;

/** The catalogue's currency, for the price filter's major units (the demo catalogue is in euros). */
export const CATALOGUE_CURRENCY = env.CATALOGUE_CURRENCY || 'EUR';

type Event = Pick<RequestEvent, 'getClientAddress' | 'locals'>;

/** The API did not answer: a 503 page (with the way back) rather than a crash. */
export function unavailable(event: Event): never {
  error(503, translator(event.locals.lang)('unavailable'));
}

/** Any call to the API: the shopper's address forwarded, a network failure turned into a 503. */
export async function call<T>(event: Event, request: (headers: Record<string, string>) => Promise<T>): Promise<T> {
  return request(forwardedFor(event.getClientAddress())).catch(() => unavailable(event));
}

/**
 * The category tree, shared by every page for a few seconds: the layout and the page of one
 * request ask once (concurrent requests share one call), and the API's counts are at most that
 * old. A failed call is not kept: the next request asks again.
 */
const categories = new LRUCache<'tree', Category[], Event>({
  max: 1,
  ttl: 10_000,
  fetchMethod: async (_key, _stale, { context: event }) => {
    const { data } = await call(event, (headers) => api.GET('/v1/categories', { headers }));
    if (!data) unavailable(event);
    return data.data;
  },
});

export const categoryTree = async (event: Event) =>
  (await categories.fetch('tree', { context: event })) ?? unavailable(event);

/** Major units typed by a shopper ("12.50") as the API's minor units (1250); junk is ignored. */
export function toMinor(value: string | null, currency = CATALOGUE_CURRENCY): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const number = Number(value.trim().replace(',', '.'));
  if (!Number.isFinite(number) || number < 0) return undefined;
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  return Math.round(number * 10 ** (digits ?? 2));
}

/** The filters a listing or a search takes from its URL (prices in major units there). */
export function filtersFrom(url: URL) {
  const params = url.searchParams;
  const brands = [...new Set(params.getAll('brand').filter((b) => b.trim() !== ''))].slice(0, 20);
  const inStock = params.get('in_stock');
  return {
    brand: brands.length > 0 ? brands : undefined,
    min_price: toMinor(params.get('min')),
    max_price: toMinor(params.get('max')),
    in_stock:
      inStock === 'true' || inStock === '1' || inStock === 'on' ? true : inStock === 'false' ? false : undefined,
  };
}

export type Filters = ReturnType<typeof filtersFrom>;

export const hasFilters = (filters: Filters) => Object.values(filters).some((value) => value !== undefined);
