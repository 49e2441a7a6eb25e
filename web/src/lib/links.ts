/**
 * Links that change one part of the current URL's state (a cursor, a page, a filter) and keep
 * the rest: every state of a listing or a search is its URL.
 */
export function withParams(url: URL, changes: Record<string, string | string[] | null>): string {
  const next = new URL(url);
  for (const [name, value] of Object.entries(changes)) {
    next.searchParams.delete(name);
    for (const v of value === null ? [] : Array.isArray(value) ? value : [value]) next.searchParams.append(name, v);
  }
  return next.pathname + next.search;
}
