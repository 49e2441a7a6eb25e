import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import etag from '@fastify/etag';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { catalogueRoutes } from './catalogue/routes.ts';
import { authPlugin } from './auth/plugin.ts';
import { keyRoutes } from './auth/routes.ts';
import { cataloguePlugin } from './catalogue/plugin.ts';
import { productWriteRoutes } from './catalogue/write-routes.ts';
import { corsOrigins, loadConfig, type Config } from './config.ts';
import type { Database } from './db/database.ts';
import { healthRoutes } from './health/routes.ts';
import { importRoutes } from './imports/routes.ts';
import { meiliPlugin } from './search/meili/plugin.ts';
import { searchRoutes } from './search/routes.ts';
import { hoistNamedSchemas } from './openapi/components.ts';
import { swaggerUiOptions } from './openapi/docs.ts';
import { documentGuards } from './openapi/guards.ts';
import { securitySchemes } from './openapi/security.ts';
import { HttpProblem, problemPlugin, sendProblem, toProblem } from './http/problem.ts';
import { rateLimitPlugin } from './http/rate-limit.ts';
import { responseCachePlugin } from './http/response-cache.ts';
import { securityPlugin } from './http/security.ts';
import { strictBodiesPlugin } from './http/strict-bodies.ts';
import { strictNumbersPlugin } from './http/strict-numbers.ts';
import { mediaRoutes } from './media/routes.ts';
import { metricsPlugin } from './metrics/plugin.ts';
import { stockBatchRoutes } from './stock/batch-routes.ts';
import { stockRoutes } from './stock/routes.ts';

export interface AppOptions {
  /** Guards left out (tests, the OpenAPI export, the benchmark) are off: no rate limit, no CORS. */
  config: Pick<Config, 'CURSOR_SECRET' | 'LOG_LEVEL' | 'RESPONSE_CACHE_TTL_MS'> &
    Partial<
      Pick<
        Config,
        | 'RATE_LIMIT_READS_PER_MINUTE'
        | 'RATE_LIMIT_WRITES_PER_MINUTE'
        | 'BODY_LIMIT_BYTES'
        | 'IMPORT_MAX_BYTES'
        | 'CORS_ORIGINS'
        | 'TRUST_PROXY'
        | 'MEILISEARCH_URL'
        | 'MEILISEARCH_KEY'
        | 'MEILISEARCH_INDEX'
        | 'MEILISEARCH_TIMEOUT_MS'
        | 'MEILISEARCH_TASK_TIMEOUT_MS'
        | 'MEILISEARCH_MAX_LAG_MS'
        | 'SEARCH_INDEXER'
        | 'METRICS_TOKEN'
        | 'STOCK_COALESCE'
      >
    >;
  database: Database;
  /** Override the logger (tests silence it); defaults to JSON logs at LOG_LEVEL. */
  logger?: FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** Longer than any valid path parameter (product slugs are at most 200 characters). */
const MAX_PARAM_LENGTH = 500;

/**
 * Credentials never reach the logs (docs/security.md, "Logging"). Headers are not logged at all;
 * `redact` keeps Authorization and cookies out should a line ever carry headers. The URL is logged,
 * so a key pasted into a query string by mistake is cut there: a parameter named for a credential
 * loses its value, and an API key anywhere else keeps only its public prefix (enough to revoke it).
 */
const CREDENTIAL_PARAM = /([?&](?:access_token|api_key|apikey|key|token)=)[^&#]*/gi;
const KEY_SECRET = /(cat_[a-z0-9]{8}_)[A-Za-z0-9_-]+/g;
const REDACTED = '[redacted]';

const redactUrl = (url: string) => url.replace(CREDENTIAL_PARAM, `$1${REDACTED}`).replace(KEY_SECRET, `$1${REDACTED}`);

function loggerOptions(level: string, given: AppOptions['logger']): FastifyServerOptions['logger'] {
  if (given === false) return false;
  const options = typeof given === 'object' ? given : { level };
  return {
    ...options,
    redact: {
      paths: ['headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie'],
      censor: REDACTED,
    },
    serializers: {
      ...options.serializers,
      // Fastify's own request fields, the URL redacted (Fastify passes its request, not the raw one).
      req: (raw) => {
        const request = raw as unknown as FastifyRequest;
        return {
          method: request.method,
          url: typeof request.url === 'string' ? redactUrl(request.url) : undefined,
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort,
        };
      },
    },
  };
}

export const API_VERSION = '0.1.0';

/** How long a shutdown waits for idle keep-alive connections to bring a last request. */
const SHUTDOWN_DRAIN_MS = 1_000;

/**
 * Stops accepting connections and waits (at most `ms`) until the open ones have closed. Through
 * net.Server's close: http.Server's own close() also cuts every idle keep-alive connection at once,
 * which is what this avoids (Fastify calls it next, for the connections still open then).
 */
async function drainConnections(server: Server, ms: number): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    NetServer.prototype.close.call(server, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The one app factory: the server, the tests, the OpenAPI export and the benchmark all build
 * the API here, so they all run with production's settings.
 */
export async function buildApp({ config, database, logger }: AppOptions) {
  const app = Fastify({
    logger: loggerOptions(config.LOG_LEVEL, logger),
    // A caller's request id is kept (to follow a request across services) when it looks like one.
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: {
      customOptions: {
        // Unknown parameters are refused rather than silently ignored (a typo must not widen a query).
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        // Report every failing parameter, not only the first.
        allErrors: true,
      },
    },
    // Long enough for any valid path parameter, so a too-long one is a 400 naming it, not a 404.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // The router's own refusals answer problem+json like every other refusal, and 400 (Fastify
    // would say 414 to a long segment): a path that is not valid percent-encoded UTF-8, or with a
    // segment longer than any valid parameter.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      const detail =
        error.code === 'FST_ERR_BAD_URL'
          ? 'The path is not valid percent-encoded UTF-8.'
          : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? `A path segment is longer than ${MAX_PARAM_LENGTH} characters.`
            : undefined;
      const refusal = detail ? new HttpProblem(400, 'invalid-request', 'Invalid request', detail) : error;
      return sendProblem(reply, toProblem(refusal, request));
    },
    bodyLimit: config.BODY_LIMIT_BYTES ?? 1_048_576,
    // A request reaching a connection that is closing is answered (with `Connection: close`),
    // not refused: it was sent on a connection this server had kept open for it.
    return503OnClosing: false,
    // The client's address (for rate limits and logs) is taken from X-Forwarded-For only when the
    // request comes from one of these proxies (addresses or CIDRs): anyone else could forge it.
    trustProxy: config.TRUST_PROXY ? config.TRUST_PROXY.split(',').map((a) => a.trim()) : false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // While shutting down, answers to requests already in flight close their connection: otherwise
  // a keep-alive socket that was busy when close() began holds the shutdown until its idle timeout.
  // The listener closes first (a new connection is refused at once), but an idle keep-alive
  // connection is not cut straight away: its client may be sending a request at that very moment,
  // which would meet a reset (applied or not? it cannot tell). It gets a moment to bring that last
  // request, which is answered, and its connection closed after the answer.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    await drainConnections(app.server, SHUTDOWN_DRAIN_MS);
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  await app.register(problemPlugin);
  // Early: its onResponse hook times every request, and the routes below count through app.metrics.
  await app.register(metricsPlugin, { token: config.METRICS_TOKEN, database });
  await app.register(securityPlugin, { corsOrigins: corsOrigins(config.CORS_ORIGINS ?? '') });
  // Keys first: the rate limits count a client by its verified key.
  await app.register(authPlugin, { db: database.db });
  await app.register(rateLimitPlugin, {
    readsPerMinute: config.RATE_LIMIT_READS_PER_MINUTE,
    writesPerMinute: config.RATE_LIMIT_WRITES_PER_MINUTE,
    exempt: ['/healthz', '/readyz', '/metrics'],
  });
  await app.register(strictNumbersPlugin);
  await app.register(strictBodiesPlugin);
  await app.register(etag, { weak: true });
  await app.register(responseCachePlugin, { ttlMs: config.RESPONSE_CACHE_TTL_MS });
  await app.register(swagger, {
    transform: documentGuards,
    transformObject: hoistNamedSchemas,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Catalogue API',
        version: API_VERSION,
        description:
          'The product catalogue, one page at a time. Errors are RFC 9457 problem+json; lists use opaque keyset cursors; public reads carry ETag and Cache-Control.',
        license: { name: 'MIT', identifier: 'MIT' },
        contact: { name: 'Catalogue team' },
      },
      servers: [{ url: '/', description: 'This server' }],
      components: { securitySchemes },
      tags: [
        { name: 'catalogue', description: 'Browse products and categories' },
        { name: 'stock', description: 'Stock levels and their ledger (API key with stock:write)' },
        { name: 'keys', description: 'API keys (API key with keys:admin)' },
        { name: 'media', description: 'Images' },
        { name: 'operations', description: 'Health and readiness' },
      ],
    },
  });
  await app.register(swaggerUi, swaggerUiOptions);

  await app.register(cataloguePlugin, { database, cursorSecret: config.CURSOR_SECRET });
  await app.register(catalogueRoutes);
  await app.register(productWriteRoutes, { db: database.db });
  if (config.MEILISEARCH_URL) await app.register(meiliPlugin, { database, config: { ...loadConfig({}), ...config } });
  await app.register(searchRoutes, { pool: database.searchPool, primary: database.pool });
  await app.register(importRoutes, { pool: database.pool, maxBytes: config.IMPORT_MAX_BYTES });
  await app.register(stockRoutes, {
    db: database.db,
    pool: database.pool,
    coalesce: (config.STOCK_COALESCE ?? 'on') === 'on',
  });
  await app.register(stockBatchRoutes, { db: database.db, pool: database.pool });
  await app.register(keyRoutes);
  await app.register(mediaRoutes);
  await app.register(healthRoutes, { database });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
