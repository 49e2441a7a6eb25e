import { categoryTree } from '$lib/server/catalogue';
import { loadListing } from '$lib/server/listing';
import type { PageServerLoad } from './$types';

/** The home page: the category tree and one page of the newest products (paged by the URL's cursor alone). */
export const load = (async (event) => {
  const [tree, listing] = await Promise.all([categoryTree(event), loadListing(event, undefined, { brands: false })]);
  return {
    tree: tree.map(({ id, slug, name, parent_id, product_count }) => ({ id, slug, name, parent_id, product_count })),
    listing,
  };
}) satisfies PageServerLoad;
