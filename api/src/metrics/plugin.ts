import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../db/database.ts';
import { HttpProblem } from '../http/problem.ts';
import { CatalogueMetrics, NO_COUNTERS, type CatalogueCounters } from './metrics.ts';
import { holdsToken } from './server.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** What the routes count (stock changes, imports); does nothing while metrics are off. */
    metrics: CatalogueCounters;
  }
}

export interface MetricsPluginOptions {
  /** METRICS_TOKEN: without it, nothing is measured and /metrics does not exist (a 404 like any unknown URL). */
  token?: string;
  database: Pick<Database, 'pool' | 'pools'>;
}

/**
 * `GET /metrics` in Prometheus's text format, for a scraper holding METRICS_TOKEN
 * (`Authorization: Bearer <token>`, as Prometheus's `authorization` scrape setting sends it).
 * The metrics say how busy the API is and what it did, so they are not public: without the token
 * a 401, and with no token configured no endpoint at all.
 *
 * Each request is recorded once it has been answered (onResponse, with Fastify's own elapsed
 * time), in plain numbers (see requests.ts): the cached product pages this API serves at tens of
 * thousands a second must not pay for being counted.
 */
export const metricsPlugin = fp<MetricsPluginOptions>(
  async (app: FastifyInstance, { token, database }) => {
    if (!token) {
      app.decorate('metrics', NO_COUNTERS);
      return;
    }
    const metrics = new CatalogueMetrics({
      pools: database.pools,
      pool: database.pool,
      log: app.log.child({ component: 'metrics' }),
    });
    app.decorate('metrics', metrics);

    app.addHook('onResponse', (request, reply, done) => {
      metrics.requests.observe(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });

    // Registered later than this plugin (see app.ts), so looked for once the app is ready.
    app.addHook('onReady', async () => {
      const indexer = app.meili?.indexer;
      if (indexer) metrics.watchIndexer(indexer.stats);
    });

    const authorized = (request: FastifyRequest) => holdsToken(request.headers.authorization, token);

    app.get('/metrics', { schema: { hide: true } }, async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store');
      if (!authorized(request)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new HttpProblem(
          401,
          'unauthorized',
          'Unauthorized',
          request.headers.authorization
            ? 'The metrics token is not valid.'
            : 'Metrics need the metrics token: Authorization: Bearer <METRICS_TOKEN>.',
        );
      }
      const text = await metrics.scrape();
      return reply.type(metrics.contentType).send(text);
    });
  },
  { name: 'metrics', dependencies: ['problem'] },
);
