import type { FastifySchema, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { Problem, PROBLEM_CONTENT_TYPE } from '../http/problem.ts';
import { documentSecurity } from './security.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const tooMany = {
  description:
    'Too Many Requests: the rate limit of the key (or, without one, of the client address) is spent. Wait `Retry-After` seconds.',
  // Header schemas as @fastify/swagger takes them: it wraps each in the header object's `schema`.
  headers: {
    'Retry-After': Type.Integer({ minimum: 0, description: 'Seconds until the budget refills.' }),
    'RateLimit-Policy': Type.String({
      description: 'The policy (IETF draft): `"reads";q=1200;w=60` or `"writes";q=300;w=60`.',
    }),
    RateLimit: Type.String({ description: 'What is left of it (IETF draft): `"reads";r=0;t=42`.' }),
  },
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
};

const tooLarge = {
  description: 'Payload Too Large: the body is over the limit (BODY_LIMIT_BYTES; imports: IMPORT_MAX_BYTES).',
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
};

const unsupported = {
  description: 'Unsupported Media Type: the body is not sent as application/json.',
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
};

const notModified = Type.Null({ description: 'Not modified: the ETag matches If-None-Match.' });

/**
 * The guards' answers, which every route can give but no route declares (they come from hooks
 * that run before it): 304 on every GET (@fastify/etag tags every answer and honours
 * If-None-Match); 429 on every rate-limited /v1 route; 413 on every route with a body, and 415
 * on those whose body is JSON (Fastify's parser refuses another media type). And the key check
 * (security.ts): the security and scope of each route that asks for an API key.
 * An @fastify/swagger `transform`: the document changes, the routes' validation does not.
 */
export function documentGuards({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }) {
  if (!schema || schema.hide) return { schema, url };
  const response = { ...(schema.response as Record<string, unknown> | undefined) };
  const methods = [route.method].flat();
  if (methods.includes('GET')) response['304'] ??= notModified;
  if (url.startsWith('/v1/')) {
    response['429'] ??= tooMany;
    if (methods.some((m) => BODY_METHODS.has(m))) {
      response['413'] ??= tooLarge;
      // A body documented by media type (imports) declares its own.
      if (!(schema.body && 'content' in (schema.body as object))) response['415'] ??= unsupported;
    }
  }
  return { schema: documentSecurity({ ...schema, response }, route), url };
}
