import { redirect, type Cookies } from '@sveltejs/kit';
import { api, forwardedFor } from './api';

/**
 * The admin's API key lives only in this cookie: httpOnly (no script reads it), SameSite=Strict
 * (no other site's page sends it), Secure over https, and only for /admin. It never reaches a
 * page, a URL or browser storage; the storefront's server adds it to the API calls it makes.
 */
const COOKIE = 'admin_key';
const EIGHT_HOURS = 8 * 60 * 60;

export function keepKey(cookies: Cookies, url: URL, key: string) {
  cookies.set(COOKIE, key, {
    path: '/admin',
    httpOnly: true,
    sameSite: 'strict',
    secure: url.protocol === 'https:',
    maxAge: EIGHT_HOURS,
  });
}

export const forgetKey = (cookies: Cookies) => cookies.delete(COOKIE, { path: '/admin' });

/** The signed-in admin's key, or off to the sign-in page. */
export function adminKey(cookies: Cookies): string {
  const key = cookies.get(COOKIE);
  if (!key) redirect(303, '/admin/login');
  return key;
}

export const bearer = (key: string, address: string) => ({ authorization: `Bearer ${key}`, ...forwardedFor(address) });

/** The API refused the key (revoked since): sign in again. */
export function signedOut(cookies: Cookies): never {
  forgetKey(cookies);
  redirect(303, '/admin/login?expired=1');
}

/**
 * Whether the API accepts a key for stock work. The API has no "who am I" endpoint, so this asks
 * for the stock ledger of a product that cannot exist: 401 is an unknown key, 403 one without
 * the stock:write scope, 404 a key that may read and change stock.
 */
export async function checkKey(key: string, address: string): Promise<'ok' | 'refused' | 'no-scope' | 'unavailable'> {
  const { response } = await api
    .GET('/v1/products/{id}/stock-movements', {
      params: { path: { id: Number.MAX_SAFE_INTEGER }, query: { limit: 1 } },
      headers: bearer(key, address),
    })
    .catch(() => ({ response: undefined }));
  if (!response) return 'unavailable';
  if (response.status === 401) return 'refused';
  if (response.status === 403) return 'no-scope';
  return response.status === 404 || response.ok ? 'ok' : 'unavailable';
}
