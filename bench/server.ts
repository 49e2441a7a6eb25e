/**
 * The benchmark's server process: the real API (built by the same factory as production), plus,
 * on other ports, the two references it is compared with:
 *  - ceiling: a bare Fastify serving a products page's JSON body from memory, pre-serialised:
 *    the most any products route could do here;
 *  - baseline: the classic OFFSET/LIMIT query that keyset pagination replaces.
 * Prints one JSON line with the three base URLs, then serves until SIGTERM.
 */
import Fastify from 'fastify';
import { desc, eq } from 'drizzle-orm';
import { buildApp } from '../api/src/app.ts';
import { loadConfig } from '../api/src/config.ts';
import { createDatabase } from '../api/src/db/database.ts';
import { products } from '../api/src/db/schema.ts';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');

// The environment's settings (TRUST_PROXY: run.ts and bench/web.ts give it what `npm start` gives
// the API, scripts/start.mjs, since the storefront calls this API; RESPONSE_CACHE_TTL_MS;
// METRICS_TOKEN, which the soak sets to read the API's heap; STOCK_COALESCE, which bench/stock.ts
// measures both ways), without rate limits (the bench's clients would share one budget) nor
// Meilisearch (the bench measures PostgreSQL search).
const benchEnv = {
  ...process.env,
  CURSOR_SECRET: process.env.CURSOR_SECRET ?? 'bench-cursor-secret-0123456789',
  LOG_LEVEL: 'silent',
  RATE_LIMIT_READS_PER_MINUTE: '0',
  RATE_LIMIT_WRITES_PER_MINUTE: '0',
  MEILISEARCH_URL: undefined,
};
const database = createDatabase(url, { poolSize: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
const app = await buildApp({ config: loadConfig(benchEnv), database, logger: false });
await app.listen({ host: '127.0.0.1', port: 0 });
const apiUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
// The same API with the response cache off: every request reaches PostgreSQL.
const uncached = await buildApp({
  config: loadConfig({ ...benchEnv, RESPONSE_CACHE_TTL_MS: '0', METRICS_TOKEN: undefined, STOCK_COALESCE: undefined }),
  database,
  logger: false,
});
await uncached.listen({ host: '127.0.0.1', port: 0 });

// The body of the first products page, exactly as the API answers it, kept as a string: no query,
// no serialisation, no hooks: the most any products route could serve on this machine.
const page = await (await fetch(`${apiUrl}/v1/products`)).text();
const ceiling = Fastify({ logger: false });
ceiling.get('/v1/products', async (_request, reply) => reply.type('application/json; charset=utf-8').send(page));
await ceiling.listen({ host: '127.0.0.1', port: 0 });

const baseline = Fastify({ logger: false });
baseline.get<{ Querystring: { offset: string; limit?: string } }>('/offset', async (request) => {
  const rows = await database.db
    .select({
      id: products.id,
      sku: products.sku,
      slug: products.slug,
      name: products.name,
      brand: products.brand,
      categoryId: products.categoryId,
      priceAmount: products.priceAmount,
      currency: products.currency,
      images: products.images,
      stock: products.stock,
      createdAt: products.createdAt,
      updatedAt: products.updatedAt,
    })
    .from(products)
    .where(eq(products.status, 'active'))
    .orderBy(desc(products.createdAt), desc(products.id))
    .offset(Number(request.query.offset))
    .limit(Number(request.query.limit ?? 24));
  return { data: rows };
});
await baseline.listen({ host: '127.0.0.1', port: 0 });

const port = (server: { server: typeof ceiling.server }) => (server.server.address() as { port: number }).port;
console.log(
  JSON.stringify({
    api: apiUrl,
    uncached: `http://127.0.0.1:${port(uncached)}`,
    ceiling: `http://127.0.0.1:${port(ceiling)}`,
    baseline: `http://127.0.0.1:${port(baseline)}`,
  }),
);

process.on('SIGTERM', async () => {
  await Promise.all([app.close(), uncached.close(), ceiling.close(), baseline.close()]);
  await database.close();
  process.exit(0);
});
