import { redirect, type Handle, type HandleServerError } from '@sveltejs/kit';
import Negotiator from 'negotiator';
import { isLang, LANGS, type Lang } from '$lib/i18n';

const LANG_COOKIE = 'lang';

/** The best of our languages for the request's Accept-Language (RFC 9110 12.5.4), English by default. */
function fromAcceptLanguage(request: Request): Lang {
  const accept = request.headers.get('accept-language') ?? undefined;
  return (new Negotiator({ headers: { 'accept-language': accept } }).language(LANGS) as Lang | undefined) ?? 'en';
}

/**
 * Every request: the shopper's language (a `lang` link sets the cookie, then the cookie, then
 * Accept-Language), the headers every answer carries, and the admin pages kept out of caches
 * and search engines.
 */
export const handle: Handle = async ({ event, resolve }) => {
  const { url, cookies, request } = event;

  // The language switch is a plain link with ?lang=xx: remember the choice, then show the same
  // page at its own URL, so that `lang` never becomes part of a page's address.
  const asked = url.searchParams.get('lang');
  if (asked !== null && request.method === 'GET') {
    if (isLang(asked)) {
      cookies.set(LANG_COOKIE, asked, {
        path: '/',
        maxAge: 60 * 60 * 24 * 365,
        sameSite: 'lax',
        httpOnly: true,
        secure: url.protocol === 'https:',
      });
    }
    const back = new URL(url);
    back.searchParams.delete('lang');
    // Thrown, not returned: SvelteKit then adds the cookie to the redirect.
    // One leading slash: `//host` would send the shopper to another site.
    redirect(303, `/${back.pathname.replace(/^\/+/, '')}${back.search}`);
  }

  const chosen = cookies.get(LANG_COOKIE);
  event.locals.lang = isLang(chosen) ? chosen : fromAcceptLanguage(request);

  // Public pages are kept a moment, in front of SvelteKit (web/server/page-cache.js), by the
  // headers named in `vary` below.
  const response = await resolve(event, {
    transformPageChunk: ({ html }) => html.replace('%lang%', event.locals.lang),
  });

  response.headers.set('x-content-type-options', 'nosniff');
  response.headers.set('referrer-policy', 'strict-origin-when-cross-origin');
  if (!response.headers.has('x-frame-options')) response.headers.set('x-frame-options', 'DENY');
  if (url.pathname === '/admin' || url.pathname.startsWith('/admin/')) {
    // An admin page shows what one key may see: never stored by a browser or a proxy, never indexed.
    response.headers.set('cache-control', 'private, no-store');
    response.headers.set('x-robots-tag', 'noindex, nofollow');
  } else if (!url.pathname.startsWith('/media/')) {
    // The same URL answers in the shopper's language: caches must key on what chose it.
    response.headers.append('vary', 'Accept-Language, Cookie');
  }
  return response;
};

export const handleError: HandleServerError = ({ error, event, status }) => {
  if (status >= 500) console.error(`${event.request.method} ${event.url.pathname}:`, error);
  return { message: status === 404 ? 'Not found' : 'Something went wrong' };
};
