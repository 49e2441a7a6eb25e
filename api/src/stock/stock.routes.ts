import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { sendAnswer } from '../http/idempotency.ts';
import { parseIfMatch, versionTag } from '../http/conditional.ts';
import { HttpProblem } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import { NoQuery } from '../http/schemas.ts';
import { fingerprint } from '../pagination/cursor.ts';
import { refusal } from './refusals.ts';
import { actorOf, type StockService } from './service.ts';
import {
  MovementPage,
  MovementsQuery,
  ProductIdParams,
  SetStockBody,
  StockAdjustmentBody,
  StockChange,
} from './schemas.ts';

const adjustStockSchema = {
  operationId: 'adjustStock',
  tags: ['stock'],
  summary: 'Add or take away stock, atomically',
  description:
    'Applies `delta` in one conditional update: a change that would take the stock below zero, or above 1,000,000,000, is refused with 409 (and `current_stock`), and changes nothing. Writes a ledger row. Send `Idempotency-Key` to make retries safe.',
  params: ProductIdParams,
  headers: Type.Object({
    'idempotency-key': Type.Optional(
      Type.String({ description: 'Makes a retry answer the same and change nothing more.' }),
    ),
  }),
  querystring: NoQuery,
  body: StockAdjustmentBody,
  response: { 201: StockChange, ...problemResponses(400, 401, 403, 404, 409, 422) },
};

const setStockSchema = {
  operationId: 'setStock',
  tags: ['stock'],
  summary: 'Set the stock to an absolute level, if unchanged since read',
  description:
    'Conditional: send `If-Match: "<version>"` (the product version) or `expected` (the stock you saw). A stale value answers 412 with `current_stock` and `current_version`, and changes nothing; neither answers 428.',
  params: ProductIdParams,
  headers: Type.Object({
    'if-match': Type.Optional(Type.String({ description: 'The product version as "<version>".' })),
  }),
  querystring: NoQuery,
  body: SetStockBody,
  response: { 200: StockChange, ...problemResponses(400, 401, 403, 404, 412, 428) },
};

const listStockMovementsSchema = {
  operationId: 'listStockMovements',
  tags: ['stock'],
  summary: 'The stock ledger of a product, newest first',
  description: 'Every change with its delta, reason, resulting stock and the key that made it. Keyset-paginated.',
  params: ProductIdParams,
  querystring: MovementsQuery,
  response: { 200: MovementPage, ...problemResponses(400, 401, 403, 404) },
};

/** A PUT that could overwrite a newer count than its client saw (RFC 6585 section 3). */
const preconditionRequired = () =>
  new HttpProblem(
    428,
    'precondition-required',
    'Precondition required',
    'Send If-Match: "<version>" or `expected` so that a stale screen cannot overwrite a newer count.',
  );

/** A ledger cursor's key: the last movement id of the page before. */
const movementKey = (key: unknown) =>
  Array.isArray(key) && key.length === 1 && Number.isSafeInteger(key[0]) && key[0] > 0 ? (key as [number]) : undefined;

/** A product's stock: adjustments, the absolute level, and the ledger (API key with stock:write). */
export const stockRoutes: FastifyPluginAsyncTypebox<{ stock: StockService }> = async (app, { stock }) => {
  const writer = app.requireScope('stock:write');

  app.post(
    '/v1/products/:id/stock-adjustments',
    {
      preHandler: writer,
      schema: adjustStockSchema,
    },
    async (request, reply) => {
      const { delta, reason } = request.body;
      const answer = await stock.adjust(request, {
        productId: request.params.id,
        delta,
        reason,
        actor: actorOf(request),
      });
      // Answers are the change or its refusal (no product, not enough stock); a replay changed nothing.
      if (!answer.replayed) app.metrics.stockChanged('adjustment', answer.status < 300 ? 'applied' : 'refused');
      return sendAnswer(reply, answer);
    },
  );

  app.put(
    '/v1/products/:id/stock',
    {
      preHandler: writer,
      schema: setStockSchema,
    },
    async (request, reply) => {
      const { id } = request.params;
      const version = parseIfMatch(request.headers['if-match']);
      const { expected, reason } = request.body;
      if (version === undefined && expected === undefined) throw preconditionRequired();
      const result = await stock.set({
        productId: id,
        stock: request.body.stock,
        reason,
        actor: actorOf(request),
        expect: { version, stock: expected },
      });
      app.metrics.stockChanged('set', result.outcome === 'done' ? 'applied' : 'refused');
      if (result.outcome !== 'done') throw refusal(result, id);
      reply.header('etag', versionTag(result.change.version));
      return result.change;
    },
  );

  app.get(
    '/v1/products/:id/stock-movements',
    {
      preHandler: writer,
      schema: listStockMovementsSchema,
    },
    async (request, reply) => {
      const { id } = request.params;
      const { limit = 50, cursor } = request.query;
      const print = fingerprint(['movements', id]);
      const position = cursor ? app.catalogue.cursors.decode(cursor, print, movementKey) : undefined;
      const page = await stock.movements(id, limit, position?.key[0]);
      const last = page.rows.at(-1);
      reply.header('cache-control', 'no-store');
      return {
        data: page.rows,
        next_cursor:
          page.more && last ? app.catalogue.cursors.encode({ direction: 'after', key: [last.id] }, print) : null,
      };
    },
  );
};
