import { fail, redirect } from '@sveltejs/kit';
import { translator } from '$lib/i18n';
import { checkKey, keepKey } from '$lib/server/admin';
import type { Actions, PageServerLoad } from './$types';

export const load = (({ url }) => ({ expired: url.searchParams.has('expired') })) satisfies PageServerLoad;

export const actions = {
  /** The key is checked with the API before it is kept; a refused key is never stored. */
  default: async ({ request, cookies, url, locals, getClientAddress }) => {
    const t = translator(locals.lang);
    const key = String((await request.formData()).get('key') ?? '').trim();
    const verdict = key ? await checkKey(key, getClientAddress()) : 'refused';
    if (verdict === 'refused') return fail(401, { message: t('wrongKey') });
    if (verdict === 'no-scope') return fail(403, { message: t('keyLacksScope') });
    if (verdict === 'unavailable') return fail(503, { message: t('unavailable') });
    keepKey(cookies, url, key);
    redirect(303, '/admin');
  },
} satisfies Actions;
