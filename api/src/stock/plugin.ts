import type { FastifyPluginAsync } from 'fastify';
import type { Database } from '../db/database.ts';
import { expireIdempotencyKeys } from '../http/idempotency.ts';
import { StockService } from './service.ts';
import { stockBatchRoutes } from './stock-batches.routes.ts';
import { stockLevelRoutes } from './stock-levels.routes.ts';
import { stockRoutes } from './stock.routes.ts';

export interface StockPluginOptions extends Pick<Database, 'db' | 'pool'> {
  /**
   * Group commit of single adjustments without an Idempotency-Key (coalescer.ts; STOCK_COALESCE):
   * on unless false.
   */
  coalesce?: boolean;
}

/** Stock: one service for every change, and the routes that call it. */
export const stockPlugin: FastifyPluginAsync<StockPluginOptions> = async (app, { db, pool, coalesce = true }) => {
  const stock = new StockService({
    db,
    pool,
    coalesce,
    onFallback: (error, size) =>
      app.log.warn({ err: error, size }, 'stock adjustments: a batch failed, its adjustments run one by one'),
  });
  // Every adjustment queued or in flight is answered before the app closes (and the pool after it).
  app.addHook('onClose', async () => stock.close());

  // Forget idempotency answers past their day, every ten minutes.
  const sweeper = setInterval(() => void expireIdempotencyKeys(db).catch(() => undefined), 10 * 60_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));

  await app.register(stockLevelRoutes, { stock });
  await app.register(stockRoutes, { stock });
  await app.register(stockBatchRoutes, { stock });
};
