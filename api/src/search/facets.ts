import type { CategoryTree } from '../catalogue/category-tree.ts';
import type { SearchFacets } from './engine.ts';
import { PRICE_BOUNDS } from './prices.ts';

/** Brands listed at most, those with the most hits first. */
const TOP_BRANDS = 20;

/** The facets as a search answers them: what a shopper can narrow the search to next. */
export interface FacetAnswer {
  /** The categories one level below the chosen one (or the departments), in the tree's order. */
  category: { slug: string; name: string; count: number }[];
  brand: { name: string; count: number }[];
  /** Buckets with hits: `min` inclusive, `max` exclusive (null: no upper bound), minor units. */
  price: { min: number; max: number | null; count: number }[];
  availability: { in_stock: number; out_of_stock: number };
}

export function facetAnswer(facets: SearchFacets, tree: CategoryTree, chosen: number | undefined): FacetAnswer {
  const parent = chosen ?? null;
  return {
    category: tree.ordered
      .filter((node) => node.parentId === parent)
      .map((node) => ({ slug: node.slug, name: node.name, count: facets.categories.get(node.id) ?? 0 }))
      .filter((facet) => facet.count > 0),
    brand: [...facets.brands]
      .map(([name, count]) => ({ name, count }))
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
      .slice(0, TOP_BRANDS),
    price: [0, ...PRICE_BOUNDS]
      .map((min, bucket) => ({ min, max: PRICE_BOUNDS[bucket] ?? null, count: facets.prices.get(bucket) ?? 0 }))
      .filter((facet) => facet.count > 0),
    availability: { in_stock: facets.availability.inStock, out_of_stock: facets.availability.outOfStock },
  };
}
