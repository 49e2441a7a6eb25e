import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { Server as NetServer } from 'node:net';
import etag from '@fastify/etag';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { authPlugin } from './auth/plugin.ts';
import { keyRoutes } from './auth/keys.routes.ts';
import { cataloguePlugin } from './catalogue/plugin.ts';
import { categoryRoutes } from './catalogue/categories.routes.ts';
import { productWriteRoutes } from './catalogue/product-writes.routes.ts';
import { productRoutes } from './catalogue/products.routes.ts';
import { corsOrigins, type Config } from './config.ts';
import type { Database } from './db/database.ts';
import { healthRoutes } from './health/health.routes.ts';
import { importRoutes } from './imports/imports.routes.ts';
import { searchPlugin } from './search/plugin.ts';
import { searchRoutes } from './search/search.routes.ts';
import { hoistNamedSchemas } from './openapi/components.ts';
import { swaggerUiOptions } from './openapi/docs.ts';
import { documentGuards } from './openapi/guards.ts';
import { securitySchemes } from './openapi/security.ts';
import { HttpProblem, problemPlugin, sendProblem, toProblem } from './http/problem.ts';
import { rateLimitPlugin } from './http/rate-limit.ts';
import { responseCachePlugin } from './http/response-cache.ts';
import { securityPlugin } from './http/security.ts';
import { strictNumbersPlugin } from './http/strict-numbers.ts';
import { validationPlugin } from './http/validation.ts';
import { mediaRoutes } from './media/media.routes.ts';
import { metricsPlugin } from './metrics/plugin.ts';
import { stockPlugin } from './stock/plugin.ts';

export interface AppOptions {
  /** The validated configuration (loadConfig): every default is the config schema's. */
  config: Config;
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
async function drainConnections(server: HttpServer, ms: number): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    NetServer.prototype.close.call(server, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The server with its settings: logs, request ids, validation, the router, the limits. */
function createServer(config: Config, logger: AppOptions['logger']) {
  const app = Fastify({
    logger: loggerOptions(config.LOG_LEVEL, logger),
    // A caller's request id is kept (to follow a request across services) when it looks like one.
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
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
    bodyLimit: config.BODY_LIMIT_BYTES,
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
  return app;
}

type Server = ReturnType<typeof createServer>;

/**
 * What every request goes through, in this order: the problem+json error handler, metrics (its
 * onResponse hook times every request), CORS and security headers, the API key (verified once),
 * the rate limits (which count a client by that key), strict parameters and bodies, ETags and
 * the response cache (after the rate limits, so a cached answer is counted too).
 */
async function registerRequestPipeline(app: Server, config: Config, database: Database) {
  await app.register(problemPlugin);
  await app.register(metricsPlugin, { token: config.METRICS_TOKEN, database });
  await app.register(securityPlugin, { corsOrigins: corsOrigins(config.CORS_ORIGINS) });
  await app.register(authPlugin, { db: database.db });
  await app.register(rateLimitPlugin, {
    readsPerMinute: config.RATE_LIMIT_READS_PER_MINUTE,
    writesPerMinute: config.RATE_LIMIT_WRITES_PER_MINUTE,
    exempt: ['/healthz', '/readyz', '/metrics'],
    clientKey: (request) => request.apiKey?.prefix,
  });
  await app.register(strictNumbersPlugin);
  await app.register(validationPlugin);
  await app.register(etag, { weak: true });
  await app.register(responseCachePlugin, { ttlMs: config.RESPONSE_CACHE_TTL_MS });
}

/**
 * The OpenAPI document and Swagger UI, served through the pipeline like any route (/docs carries
 * the security headers), and registered before the routes, which @fastify/swagger collects as
 * they are added.
 */
async function registerDocumentation(app: Server) {
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
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** The capabilities' own services, which their routes read: the catalogue's repositories, Meilisearch. */
async function registerServices(app: Server, config: Config, database: Database) {
  await app.register(cataloguePlugin, { database, cursorSecret: config.CURSOR_SECRET });
  await app.register(searchPlugin, { database, config });
}

/** Every route, one file per resource (`<capability>/<resource>.routes.ts`). */
async function registerRoutes(app: Server, config: Config, database: Database) {
  await app.register(productRoutes);
  await app.register(categoryRoutes);
  await app.register(productWriteRoutes, { db: database.db });
  await app.register(searchRoutes);
  await app.register(importRoutes, { pool: database.pool, maxBytes: config.IMPORT_MAX_BYTES });
  await app.register(stockPlugin, {
    db: database.db,
    pool: database.pool,
    coalesce: config.STOCK_COALESCE === 'on',
  });
  await app.register(keyRoutes);
  await app.register(mediaRoutes);
  await app.register(healthRoutes, { database });
}

/**
 * The one app factory: the server, the tests, the OpenAPI export and the benchmark all build
 * the API here, so they all run with production's settings.
 */
export async function buildApp({ config, database, logger }: AppOptions) {
  const app = createServer(config, logger);
  await registerRequestPipeline(app, config, database);
  await registerDocumentation(app);
  await registerServices(app, config, database);
  await registerRoutes(app, config, database);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
