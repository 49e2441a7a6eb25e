import { categoryTree } from '$lib/server/catalogue';
import type { LayoutServerLoad } from './$types';

/**
 * What every page's frame needs: the language and the departments for the header. Depends on
 * neither the URL nor the page, so moving between pages in the browser never asks again; an API
 * that does not answer leaves the header without departments rather than the page unrendered.
 */
export const load = (async (event) => {
  const tree = await categoryTree(event).catch(() => []);
  return {
    lang: event.locals.lang,
    departments: tree.filter((c) => c.parent_id === null).map(({ slug, name }) => ({ slug, name })),
  };
}) satisfies LayoutServerLoad;
