import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { sendAnswer } from '../http/idempotency.ts';
import { problemResponses } from '../http/responses.ts';
import { NoQuery } from '../http/schemas.ts';
import { actorOf, type StockService } from './service.ts';
import { BatchAdjustmentBody, BatchResult } from './schemas.ts';

/** Many stock adjustments in one request (API key with stock:write). */
export const stockBatchRoutes: FastifyPluginAsyncTypebox<{ stock: StockService }> = async (app, { stock }) => {
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
      const answer = await stock.adjustBatch(request, actorOf(request), request.body);
      // Each item is a stock change; an atomic refusal refuses them all.
      if (!answer.replayed && answer.status === 200) {
        const { applied, refused } = answer.body as BatchResult;
        app.metrics.stockChanged('batch', 'applied', applied);
        app.metrics.stockChanged('batch', 'refused', refused);
      } else if (!answer.replayed && answer.status === 409) {
        app.metrics.stockChanged('batch', 'refused', request.body.items.length);
      }
      // The status picks the schema that serialises the body: a result, or a problem.
      return sendAnswer(reply, answer);
    },
  );
};
