import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invalidParam } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import type { StockService } from './service.ts';
import { StockLevel, StockLevelsQuery } from './schemas.ts';

/** The live stock of many products at once (API key with stock:write). */
export const stockLevelRoutes: FastifyPluginAsyncTypebox<{ stock: StockService }> = async (app, { stock }) => {
  const writer = app.requireScope('stock:write');

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
      return { data: await stock.levels(id, sku) };
    },
  );
};
