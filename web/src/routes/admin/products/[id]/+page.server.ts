import { error, fail } from '@sveltejs/kit';
import { randomUUID } from 'node:crypto';
import { translator } from '$lib/i18n';
import { api } from '$lib/server/api';
import { adminKey, bearer, signedOut } from '$lib/server/admin';
import { call, unavailable } from '$lib/server/catalogue';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

const MOVEMENTS_PER_PAGE = 20;

function productId(event: Pick<RequestEvent, 'params' | 'locals'>): number {
  const id = Number(event.params.id);
  if (!Number.isSafeInteger(id) || id < 1) error(404, translator(event.locals.lang)('notFoundProduct'));
  return id;
}

/**
 * A product's stock and its ledger, page by page. The product and its stock come from the stock
 * levels endpoint, read with the key and never cached, drafts and archived included: the stock
 * shown is the value the forms send as `expected`.
 */
export const load = (async (event) => {
  const key = adminKey(event.cookies);
  const id = productId(event);
  const cursor = event.url.searchParams.get('cursor') || undefined;
  const headers = bearer(key, event.getClientAddress());
  const [levels, movements] = await Promise.all([
    call(event, () => api.GET('/v1/stock-levels', { params: { query: { id: [id] } }, headers })),
    call(event, () =>
      api.GET('/v1/products/{id}/stock-movements', {
        params: { path: { id }, query: { limit: MOVEMENTS_PER_PAGE, cursor } },
        headers,
      }),
    ),
  ]);
  if (levels.response.status === 401 || movements.response.status === 401) signedOut(event.cookies);
  if (!levels.data) unavailable(event);
  const product = levels.data.data[0];
  if (!product) error(404, translator(event.locals.lang)('notFoundProduct'));
  if (!movements.data) {
    if (movements.response.status === 400) error(400, { message: 'Bad cursor', firstPage: event.url.pathname });
    unavailable(event);
  }
  const { name, sku, slug, brand, status, stock } = product;
  return {
    product: { id, name, sku, slug, brand, status },
    stock,
    movements: movements.data.data,
    next: movements.data.next_cursor,
    cursor,
    // A fresh key for each rendering of the adjust form: submitting the same form twice applies once.
    idempotencyKey: randomUUID(),
  };
}) satisfies PageServerLoad;

const integer = (value: FormDataEntryValue | null) => {
  const text = String(value ?? '').trim();
  return /^-?\d{1,9}$/.test(text) ? Number(text) : undefined;
};

export const actions = {
  /** An absolute level, applied only if the stock is still what the admin saw (else 412). */
  set: async (event) => {
    const t = translator(event.locals.lang);
    const id = productId(event);
    const form = await event.request.formData();
    const [stock, expected, reason] = [
      integer(form.get('stock')),
      integer(form.get('expected')),
      String(form.get('reason') ?? '').trim(),
    ];
    if (stock === undefined || stock < 0 || expected === undefined || !reason) {
      return fail(400, { action: 'set', message: t('invalidInput') });
    }
    const {
      data,
      error: problem,
      response,
    } = await call(event, () =>
      api.PUT('/v1/products/{id}/stock', {
        params: { path: { id } },
        body: { stock, expected, reason },
        headers: bearer(adminKey(event.cookies), event.getClientAddress()),
      }),
    );
    if (data) return { action: 'set', message: t('stockSet', { n: data.stock }) };
    return refused(event, response.status, problem, 'set');
  },

  /** A delta with a reason; the Idempotency-Key rendered with the form makes a double submit harmless. */
  adjust: async (event) => {
    const t = translator(event.locals.lang);
    const id = productId(event);
    const form = await event.request.formData();
    const [delta, reason, idempotencyKey] = [
      integer(form.get('delta')),
      String(form.get('reason') ?? '').trim(),
      String(form.get('idempotency_key') ?? ''),
    ];
    if (delta === undefined || delta === 0 || !reason || !/^[\w-]{8,100}$/.test(idempotencyKey)) {
      return fail(400, { action: 'adjust', message: t('invalidInput') });
    }
    const {
      data,
      error: problem,
      response,
    } = await call(event, () =>
      api.POST('/v1/products/{id}/stock-adjustments', {
        params: { path: { id } },
        body: { delta, reason },
        headers: { ...bearer(adminKey(event.cookies), event.getClientAddress()), 'idempotency-key': idempotencyKey },
      }),
    );
    if (data) return { action: 'adjust', message: t('stockSet', { n: data.stock }) };
    return refused(event, response.status, problem, 'adjust');
  },
} satisfies Actions;

/** The API's refusals as messages the admin can act on: who changed it, and the value now. */
function refused(
  event: Pick<RequestEvent, 'cookies' | 'locals'>,
  status: number,
  problem: { detail?: string; current_stock?: number } | undefined,
  action: 'set' | 'adjust',
) {
  const t = translator(event.locals.lang);
  if (status === 401) signedOut(event.cookies);
  if (status === 412)
    return fail(412, {
      action,
      message: t('stale', { n: problem?.current_stock ?? '?' }),
      current: problem?.current_stock,
    });
  if (status === 409)
    return fail(409, {
      action,
      message: t('insufficient', { n: problem?.current_stock ?? '?' }),
      current: problem?.current_stock,
    });
  if (status === 403) return fail(403, { action, message: t('keyLacksScope') });
  if (status === 404) return fail(404, { action, message: t('notFoundProduct') });
  if (status >= 500) return fail(503, { action, message: t('unavailable') });
  return fail(status, { action, message: problem?.detail ?? t('invalidInput') });
}
