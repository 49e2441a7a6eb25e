import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type pg from 'pg';
import type { Db } from '../db/database.ts';
import { expireIdempotencyKeys, runIdempotent, sendAnswer } from '../http/idempotency.ts';
import { parseIfMatch, versionTag } from '../http/conditional.ts';
import { HttpProblem, invalidParam, notFound, toProblem } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import { NoQuery } from '../catalogue/schemas.ts';
import { fingerprint } from '../pagination/cursor.ts';
import { actorOf, StockRepository } from './repository.ts';
import { DEFAULT_MAX_IN_FLIGHT, StockCoalescer } from './coalescer.ts';
import {
  MAX_STOCK,
  MovementPage,
  MovementsQuery,
  ProductIdParams,
  SetStockBody,
  StockAdjustmentBody,
  StockChange,
  StockLevel,
  StockLevelsQuery,
} from './schemas.ts';

export interface StockRoutesOptions {
  db: Db;
  pool: pg.Pool;
  /**
   * Group commit of single adjustments without an Idempotency-Key (coalescer.ts; STOCK_COALESCE):
   * on unless false.
   */
  coalesce?: boolean;
}

export const stockRoutes: FastifyPluginAsyncTypebox<StockRoutesOptions> = async (
  app,
  { db, pool, coalesce = true },
) => {
  const stock = new StockRepository({ db, pool });
  const writer = app.requireScope('stock:write');

  // Statements in flight at once stay below the pool's size: the other routes need connections too.
  const coalescer = coalesce
    ? new StockCoalescer({
        runMany: (items) => stock.adjustMany(items),
        runOne: (item) => stock.adjust(db, item.productId, item.delta, item.reason, item.actor),
        maxInFlight: Math.max(1, Math.min(DEFAULT_MAX_IN_FLIGHT, (pool.options.max ?? 10) - 1)),
        onFallback: (error, size) =>
          app.log.warn({ err: error, size }, 'stock adjustments: a batch failed, its adjustments run one by one'),
      })
    : undefined;
  // Every adjustment queued or in flight is answered before the app closes (and the pool after it).
  if (coalescer) app.addHook('onClose', async () => coalescer.close());

  // Forget idempotency answers past their day, every ten minutes.
  const sweeper = setInterval(() => void expireIdempotencyKeys(db).catch(() => undefined), 10 * 60_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));

  app.get(
    '/v1/stock-levels',
    {
      preHandler: writer,
      schema: {
        operationId: 'getStockLevels',
        tags: ['stock'],
        summary: 'Current stock of products by id or SKU, drafts and archived included',
        description:
          "Read from the database at the time of the request (never cached), with each product's `version` for a conditional PUT. Up to 100 ids and 100 SKUs; unknown ones are left out.",
        querystring: StockLevelsQuery,
        response: {
          200: Type.Object({ data: Type.Array(StockLevel, { description: 'In id order.' }) }, { title: 'StockLevels' }),
          ...problemResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { id = [], sku = [] } = request.query;
      reply.header('cache-control', 'no-store');
      if (id.length === 0 && sku.length === 0) {
        throw invalidParam({ in: 'query', name: 'id', detail: 'give at least one id or sku' });
      }
      const { rows } = await pool.query<Static<typeof StockLevel> & { id: string }>(
        `SELECT id, sku, slug, name, brand, status, stock, version FROM products
          WHERE id = ANY($1::bigint[]) OR sku = ANY($2::text[]) ORDER BY id`,
        [id, sku],
      );
      return { data: rows.map((row) => ({ ...row, id: Number(row.id) })) };
    },
  );

  app.post(
    '/v1/products/:id/stock-adjustments',
    {
      preHandler: writer,
      schema: {
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
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const answer = await runIdempotent(
        db,
        request,
        request.apiKey!.id,
        async (tx) => {
          const { delta, reason } = request.body;
          const actor = actorOf(request);
          // Without an Idempotency-Key the work runs on the database itself (no transaction): one
          // statement, which the coalescer may share with other adjustments.
          const result =
            coalescer && tx === db
              ? await coalescer.adjust({ productId: id, delta, reason, actor })
              : await stock.adjust(tx, id, delta, reason, actor);
          if (result.outcome === 'not-found') throw notFound(`No product ${id}`);
          if (result.outcome === 'insufficient') {
            throw new HttpProblem(
              409,
              'insufficient-stock',
              'Insufficient stock',
              `Only ${result.stock} in stock.`,
              undefined,
              {
                current_stock: result.stock,
              },
            );
          }
          if (result.outcome === 'over') {
            throw new HttpProblem(
              409,
              'stock-limit',
              'Stock limit',
              `The stock cannot go above ${MAX_STOCK}: ${result.stock} in stock.`,
              undefined,
              { current_stock: result.stock },
            );
          }
          return { status: 201, body: result.change };
        },
        (error) => toProblem(error, request),
        // One statement: atomic without a transaction.
        { transaction: false },
      );
      // Answers are the change or its refusal (no product, not enough stock); a replay changed nothing.
      if (!answer.replayed) app.metrics.stockChanged('adjustment', answer.status < 300 ? 'applied' : 'refused');
      return sendAnswer(reply, answer);
    },
  );

  app.put(
    '/v1/products/:id/stock',
    {
      preHandler: writer,
      schema: {
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
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const version = parseIfMatch(request.headers['if-match']);
      const { expected, reason } = request.body;
      if (version === undefined && expected === undefined) {
        throw new HttpProblem(
          428,
          'precondition-required',
          'Precondition required',
          'Send If-Match: "<version>" or `expected` so that a stale screen cannot overwrite a newer count.',
        );
      }
      const result = await db.transaction((tx) =>
        stock.set(tx, id, request.body.stock, reason, { version, stock: expected }, actorOf(request)),
      );
      app.metrics.stockChanged('set', result.outcome === 'done' ? 'applied' : 'refused');
      if (result.outcome === 'not-found') throw notFound(`No product ${id}`);
      if (result.outcome === 'stale') {
        throw new HttpProblem(
          412,
          'precondition-failed',
          'Precondition failed',
          `The stock changed since it was read: it is now ${result.stock} (version ${result.version}).`,
          undefined,
          { current_stock: result.stock, current_version: result.version },
        );
      }
      reply.header('etag', versionTag(result.change.version));
      return result.change;
    },
  );

  app.get(
    '/v1/products/:id/stock-movements',
    {
      preHandler: writer,
      schema: {
        operationId: 'listStockMovements',
        tags: ['stock'],
        summary: 'The stock ledger of a product, newest first',
        description: 'Every change with its delta, reason, resulting stock and the key that made it. Keyset-paginated.',
        params: ProductIdParams,
        querystring: MovementsQuery,
        response: { 200: MovementPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { limit = 50, cursor } = request.query;
      const print = fingerprint(['movements', id]);
      const position = cursor
        ? app.catalogue.cursors.decode(cursor, print, (key) =>
            Array.isArray(key) && key.length === 1 && Number.isSafeInteger(key[0]) && key[0] > 0
              ? (key as [number])
              : undefined,
          )
        : undefined;
      if (!(await stock.productExists(id))) throw notFound(`No product ${id}`);
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
