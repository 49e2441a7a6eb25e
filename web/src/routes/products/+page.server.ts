import { loadListing } from '$lib/server/listing';
import type { PageServerLoad } from './$types';

/** Every product, filtered and sorted by the URL, one page at a time. */
export const load = (async (event) => ({ listing: await loadListing(event) })) satisfies PageServerLoad;
