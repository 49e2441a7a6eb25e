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

/** Whether the API accepts a key for stock work: GET /v1/keys/me tells its scopes. */
export async function checkKey(key: string, address: string): Promise<'ok' | 'refused' | 'no-scope' | 'unavailable'> {
  const { data, response } = await api
    .GET('/v1/keys/me', { headers: bearer(key, address) })
    .catch(() => ({ data: undefined, response: undefined }));
  if (!response) return 'unavailable';
  if (response.status === 401) return 'refused';
  if (!data) return 'unavailable';
  return data.scopes.includes('stock:write') ? 'ok' : 'no-scope';
}
