import type { SearchHit, SearchSort } from './schemas.ts';

/**
 * One interface, two engines (docs/search.md): PostgreSQL (pg/engine.ts), always there, and
 * Meilisearch (meili/engine.ts) when configured. The search service (service.ts) chooses between
 * them; neither engine knows the other. This module is what they share.
 */

export type EngineName = 'meilisearch' | 'postgres';

/** Why PostgreSQL answered a search configured for Meilisearch. */
export type Fallback = 'meilisearch_unavailable' | 'index_not_ready' | 'index_behind';

export interface SearchRequest {
  q: string;
  /** A category id: its products and its descendants'. */
  category?: number;
  brands?: string[];
  minPrice?: number;
  maxPrice?: number;
  inStock?: boolean;
  /** Relevance unless given. */
  sort?: SearchSort;
  page: number;
  limit: number;
}

/** Facet counts over the matches the filters keep (scaled estimates when the total is not exact). */
export interface SearchFacets {
  /** By category id; a match counts in its category and in each of its ancestors. */
  categories: Map<number, number>;
  /** By brand name (products without a brand are not counted). */
  brands: Map<string, number>;
  /** By price bucket: the index in `[0, ...PRICE_BOUNDS]` of the bucket's lower bound (prices.ts). */
  prices: Map<number, number>;
  availability: { inStock: number; outOfStock: number };
}

export interface SearchResult {
  hits: SearchHit[];
  total: number;
  totalExact: boolean;
  facets: SearchFacets;
  /** The words searched for, after corrections. */
  words: string[];
  corrected: boolean;
  /** No product had every word: products with any of them are shown. */
  relaxed: boolean;
  /** How far the searched data is behind the database (0 when it is the database). */
  lagMs: number;
}

export interface SearchEngine {
  readonly name: EngineName;
  search(request: SearchRequest): Promise<SearchResult>;
}

/** An engine over an index kept apart from the database: not built yet, or behind it. */
export interface IndexedSearchEngine extends SearchEngine {
  /** The index has been built once (then it stays so). */
  isReady(): Promise<boolean>;
  /** The age of the oldest change the index does not have yet (0: none). */
  lagMs(): Promise<number>;
}

export const noFacets = (): SearchFacets => ({
  categories: new Map(),
  brands: new Map(),
  prices: new Map(),
  availability: { inStock: 0, outOfStock: 0 },
});

/** A hit as both engines read it from products (the page's rows), its name marked as HTML apart. */
export type HitRow = Omit<SearchHit, 'id' | 'highlight' | 'price' | 'image' | 'in_stock'> & {
  id: number | string;
  price_amount: number;
  currency: string;
  image_url: string | null;
  image_alt: string | null;
};

/** The columns of a HitRow, on products `p`. */
export const HIT_COLUMNS = `p.id, p.sku, p.slug, p.name, p.brand, p.category_id, p.price_amount, p.currency,
       p.images -> 0 ->> 'url' AS image_url, p.images -> 0 ->> 'alt' AS image_alt, p.stock`;

export function hitOf(row: HitRow, highlightedName: string): SearchHit {
  return {
    id: Number(row.id),
    sku: row.sku,
    slug: row.slug,
    name: row.name,
    brand: row.brand,
    category_id: row.category_id,
    price: { amount: row.price_amount, currency: row.currency },
    image: row.image_url === null ? null : { url: row.image_url, alt: row.image_alt ?? '' },
    stock: row.stock,
    in_stock: row.stock > 0,
    highlight: { name: highlightedName },
  };
}
