import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static } from 'typebox';

/**
 * RFC 9457 problem details: the one error shape of the API (https://www.rfc-editor.org/rfc/rfc9457).
 * `errors` lists each failing input (RFC 9457 section 3 allows extension members).
 */
export const InvalidParam = Type.Object({
  in: Type.Enum(['query', 'path', 'header', 'body']),
  name: Type.String({ description: 'The parameter or field that failed, e.g. `limit` or `price.amount`.' }),
  detail: Type.String(),
});

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the kind of problem.' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String({ description: 'The request id, to quote when asking for help.' })),
    errors: Type.Optional(Type.Array(InvalidParam)),
    current_stock: Type.Optional(Type.Integer({ description: 'On a stock conflict: the stock now.' })),
    current_version: Type.Optional(Type.Integer({ description: 'On a failed precondition: the version now.' })),
  },
  { title: 'Problem' },
);

export type Problem = Static<typeof Problem>;
export type InvalidParam = Static<typeof InvalidParam>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const problemType = (slug: string) => `https://catalogue.dev/problems/${slug}`;

/** An error a handler throws to answer with a specific problem. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly errors?: InvalidParam[];
  /** Extension members (RFC 9457 section 3.2), declared in the Problem schema. */
  readonly extensions: Pick<Problem, 'current_stock' | 'current_version'>;
  constructor(
    status: number,
    slug: string,
    title: string,
    detail?: string,
    errors?: InvalidParam[],
    extensions: Pick<Problem, 'current_stock' | 'current_version'> = {},
  ) {
    super(detail ?? title);
    this.status = status;
    this.type = problemType(slug);
    this.title = title;
    this.errors = errors;
    this.extensions = extensions;
  }
}

export const notFound = (detail: string) => new HttpProblem(404, 'not-found', 'Not found', detail);

export const invalidParam = (param: InvalidParam) =>
  new HttpProblem(400, 'invalid-request', 'Invalid request', `${param.name}: ${param.detail}`, [param]);

/** Fastify's validation errors name the failing parameter in instancePath or in params. */
function validationErrors(error: FastifyError): InvalidParam[] {
  const where = (error.validationContext ?? 'body') as string;
  const location = (
    where === 'querystring' ? 'query' : where === 'params' ? 'path' : where === 'headers' ? 'header' : 'body'
  ) as InvalidParam['in'];
  return (error.validation ?? []).map((v) => {
    const params = v.params as Record<string, unknown>;
    const path = v.instancePath.split('/').filter(Boolean);
    if (typeof params.missingProperty === 'string') path.push(params.missingProperty);
    if (typeof params.additionalProperty === 'string') path.push(params.additionalProperty);
    const detail =
      typeof params.additionalProperty === 'string' ? 'is not a known parameter' : (v.message ?? 'is invalid');
    return { in: location, name: path.join('.') || location, detail };
  });
}

/**
 * Errors that say the database cannot be reached at the moment (stopped, restarting, shutting down,
 * or the connection was cut), not that anything is wrong with the request: a 503 worth retrying,
 * rather than a 500. pg reports socket failures with the system's code, the server's refusals
 * with a SQLSTATE (class 08, connection exception; 57P01-57P03, the server shutting down, crashed
 * or not yet accepting connections), and connections it lost or gave up on only by message.
 * drizzle wraps the driver's error as `cause`.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const SHUTDOWN_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const CONNECTION_EXCEPTION = /^08[0-9A-Z]{3}$/;
const LOST_CONNECTION = [
  /^Connection terminated/, // pg: the socket closed, or connecting timed out
  /^timeout exceeded when trying to connect/, // pg-pool: no connection within connectionTimeoutMillis
  /^Client has encountered a connection error/, // pg: a query on a client whose socket failed
];

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 4) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNREACHABLE_CODES.has(code) || SHUTDOWN_SQLSTATES.has(code) || CONNECTION_EXCEPTION.test(code)) return true;
  }
  if (LOST_CONNECTION.some((pattern) => pattern.test(error.message))) return true;
  // Connecting to a name with several addresses fails with every attempt's error.
  if (error instanceof AggregateError && error.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) {
    return true;
  }
  return isDatabaseUnavailable(error.cause, depth + 1);
}

export const DATABASE_UNAVAILABLE = problemType('database-unavailable');
/** How long a client should wait before retrying: pg.Pool reconnects on the first request after the server is back. */
const DATABASE_RETRY_AFTER_SECONDS = 1;

export function toProblem(error: FastifyError | HttpProblem, request: FastifyRequest): Problem {
  if (error instanceof HttpProblem) {
    return {
      type: error.type,
      title: error.title,
      status: error.status,
      detail: error.message,
      instance: request.id,
      ...(error.errors ? { errors: error.errors } : {}),
      ...error.extensions,
    };
  }
  if (error.validation) {
    const errors = validationErrors(error);
    return {
      type: problemType('invalid-request'),
      title: 'Invalid request',
      status: 400,
      detail: errors.map((e) => `${e.name}: ${e.detail}`).join('; '),
      instance: request.id,
      errors,
    };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      type: DATABASE_UNAVAILABLE,
      title: 'Database unavailable',
      status: 503,
      detail:
        'The catalogue database cannot be reached at the moment. Retry shortly: a write sent with an Idempotency-Key is applied once however often it is retried.',
      instance: request.id,
    };
  }
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  if (status >= 500) {
    // Never leak internals (SQL, stack, hostnames) to the client; the log has them under the request id.
    return {
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Error',
      status,
      detail: 'The server could not complete the request. Quote the instance id when reporting it.',
      instance: request.id,
    };
  }
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: error.message,
    instance: request.id,
  };
}

/** The innermost error's code and message (drizzle's wrapper names the query, not the failure). */
function causeOf(error: unknown): { code?: unknown; message: string } {
  let inner = error as Error;
  while (inner.cause instanceof Error) inner = inner.cause;
  return { code: (inner as { code?: unknown }).code, message: inner.message };
}

export function sendProblem(reply: FastifyReply, problem: Problem) {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** One global error handler and a problem+json 404 for unknown routes. */
export const problemPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError | HttpProblem, request, reply) => {
      const problem = toProblem(error, request);
      if (problem.type === DATABASE_UNAVAILABLE) {
        // Expected while the database restarts: a warning per request, without the stack.
        request.log.warn({ cause: causeOf(error) }, 'database unavailable: answered 503');
        reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      } else if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.info({ problem: problem.type, detail: problem.detail }, 'request refused');
      return sendProblem(reply, problem);
    });
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, {
        type: problemType('not-found'),
        title: 'Not found',
        status: 404,
        detail: `No route for ${request.method} ${request.url.split('?')[0]}`,
        instance: request.id,
      }),
    );
  },
  { name: 'problem' },
);
