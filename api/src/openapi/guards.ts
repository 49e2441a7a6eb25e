import type { FastifySchema, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { Problem, PROBLEM_CONTENT_TYPE } from '../http/problem.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const tooMany = {
  description:
    'Too Many Requests: the rate limit of the key (or, without one, of the client address) is spent. Wait `Retry-After` seconds.',
  headers: {
    'Retry-After': { schema: Type.Integer({ minimum: 0, description: 'Seconds until the budget refills.' }) },
    'RateLimit-Policy': {
      schema: Type.String({ description: 'The policy (IETF draft): `"reads";q=1200;w=60` or `"writes";q=300;w=60`.' }),
    },
    RateLimit: { schema: Type.String({ description: 'What is left of it (IETF draft): `"reads";r=0;t=42`.' }) },
  },
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
};

const tooLarge = {
  description: 'Payload Too Large: the body is over the limit (BODY_LIMIT_BYTES; imports: IMPORT_MAX_BYTES).',
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
};

/**
 * The guards' answers, which every route can give but no route declares (they come from hooks
 * that run before it): 429 on every rate-limited /v1 route, 413 on every route with a body.
 * An @fastify/swagger `transform`: the document changes, the routes' validation does not.
 */
export function documentGuards({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }) {
  if (!schema || schema.hide || !url.startsWith('/v1/')) return { schema, url };
  const response = { ...(schema.response as Record<string, unknown> | undefined) };
  response['429'] ??= tooMany;
  const methods = [route.method].flat();
  if (methods.some((m) => BODY_METHODS.has(m)) && response['413'] === undefined) response['413'] = tooLarge;
  return { schema: { ...schema, response }, url };
}
