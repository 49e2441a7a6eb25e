import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type pg from 'pg';
import type { Db } from '../db/database.ts';
import { runIdempotent, type Executor } from '../http/idempotency.ts';
import { HttpProblem, PROBLEM_CONTENT_TYPE, toProblem } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import { NoQuery } from '../catalogue/schemas.ts';
import { actorOf, StockRepository, type Actor } from './repository.ts';
import { BatchAdjustmentBody, BatchResult, MAX_STOCK, type BatchResult as BatchResultType } from './schemas.ts';

type Item = BatchAdjustmentBody['items'][number];
type Result = BatchResult['results'][number];

/**
 * Applies the items in product-id order (the request order within one product), so that two
 * batches touching the same products lock them in the same order and never deadlock.
 */
async function applyAll(stock: StockRepository, tx: Executor, items: Item[], actor: Actor): Promise<Result[]> {
  const order = items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => a.item.product_id - b.item.product_id || a.index - b.index);
  const results: Result[] = new Array(items.length);
  for (const { item, index } of order) {
    const outcome = await stock.adjust(tx, item.product_id, item.delta, item.reason, actor);
    results[index] =
      outcome.outcome === 'done'
        ? {
            index,
            product_id: item.product_id,
            status: 'applied',
            stock: outcome.change.stock,
            movement_id: outcome.change.movement!.id,
          }
        : outcome.outcome === 'insufficient' || outcome.outcome === 'over'
          ? {
              index,
              product_id: item.product_id,
              status: outcome.outcome === 'over' ? 'stock_limit' : 'insufficient_stock',
              stock: outcome.stock,
              movement_id: null,
            }
          : { index, product_id: item.product_id, status: 'not_found', stock: 0, movement_id: null };
  }
  return results;
}

export const stockBatchRoutes: FastifyPluginAsyncTypebox<{ db: Db; pool: pg.Pool }> = async (app, { db, pool }) => {
  const stock = new StockRepository({ db, pool });

  app.post(
    '/v1/stock-adjustments',
    {
      preHandler: app.requireScope('stock:write'),
      schema: {
        operationId: 'adjustStockBatch',
        tags: ['stock'],
        summary: 'Apply up to 1,000 stock adjustments in one request',
        description:
          'Each item is applied like a single adjustment (atomic, never below zero, a ledger row each). With `atomic: true`, any item that cannot apply refuses the whole batch (409, the failing items in `errors`) and nothing changes; otherwise each item stands on its own and `results` says what happened to it. Send `Idempotency-Key` to make retries safe.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(
            Type.String({ description: 'Makes a retry answer the same and change nothing more.' }),
          ),
        }),
        querystring: NoQuery,
        body: BatchAdjustmentBody,
        response: { 200: BatchResult, ...problemResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const { items, atomic = false } = request.body;
      const actor = actorOf(request);
      const answer = await runIdempotent(
        db,
        request,
        actor.apiKeyId,
        async (tx) => {
          const results = await applyAll(stock, tx, items, actor);
          const refused = results.filter((r) => r.status !== 'applied');
          if (atomic && refused.length > 0) {
            // Thrown inside the work: its savepoint, and so every item, is rolled back.
            throw new HttpProblem(
              409,
              'batch-refused',
              'Batch refused',
              `${refused.length} of ${items.length} items cannot apply; none was applied.`,
              refused.map((r) => ({
                in: 'body' as const,
                name: `items.${r.index}`,
                detail:
                  r.status === 'not_found'
                    ? 'no such product'
                    : r.status === 'stock_limit'
                      ? `the stock would go above ${MAX_STOCK}: ${r.stock} in stock`
                      : `insufficient stock: ${r.stock} in stock`,
              })),
            );
          }
          return { status: 200, body: { applied: results.length - refused.length, refused: refused.length, results } };
        },
        (error) => toProblem(error, request),
        // Each item of a non-atomic batch commits on its own: no lock is held for the whole batch.
        { transaction: atomic },
      );
      // Each item is a stock change; an atomic refusal refuses them all.
      if (answer.replayed) reply.header('idempotent-replayed', 'true');
      else if (answer.status === 200) {
        const { applied, refused } = answer.body as BatchResultType;
        app.metrics.stockChanged('batch', 'applied', applied);
        app.metrics.stockChanged('batch', 'refused', refused);
      } else if (answer.status === 409) app.metrics.stockChanged('batch', 'refused', items.length);
      if (answer.status >= 400) reply.type(PROBLEM_CONTENT_TYPE);
      // The status picks the schema that serialises the body: a result, or a problem.
      return reply.code(answer.status as 200).send(answer.body as BatchResultType);
    },
  );
};
