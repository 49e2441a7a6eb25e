import { loadListing } from '$lib/server/listing';
import type { PageServerLoad } from './$types';

/** A category and its descendants' products, filtered and sorted by the URL, one page at a time. */
export const load = (async (event) => ({
  listing: await loadListing(event, event.params.slug),
})) satisfies PageServerLoad;
