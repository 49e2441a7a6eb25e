import { redirect } from '@sveltejs/kit';
import { forgetKey } from '$lib/server/admin';
import type { Actions, PageServerLoad } from './$types';

export const load = (() => redirect(303, '/admin')) satisfies PageServerLoad;

export const actions = {
  default: async ({ cookies }) => {
    forgetKey(cookies);
    redirect(303, '/admin/login');
  },
} satisfies Actions;
