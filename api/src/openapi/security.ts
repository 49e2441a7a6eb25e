import type { FastifySchema, RouteOptions } from 'fastify';
import { requiredScope } from '../auth/plugin.ts';
import type { Scope } from '../db/schema.ts';

/** The name of the API's one security scheme in `components.securitySchemes`. */
export const API_KEY_SCHEME = 'apiKey';

/**
 * Bearer API keys (RFC 6750), as `Authorization: Bearer cat_<prefix>_<secret>`. Swagger UI's
 * "Authorize" takes one and sends it with every protected operation it tries.
 */
export const securitySchemes = {
  [API_KEY_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'cat_<prefix>_<secret>',
    description:
      'An API key (`npm run keys -- create`, or POST /v1/keys). Each protected operation names the scope it needs in `x-required-scopes` (empty: any valid key).',
  },
} as const;

/**
 * The scope a route's key check asks for: null for any valid key, undefined for a public route.
 * Read from the route's own `onRequest` and `preHandler` hooks, the ones that enforce it.
 */
function routeScope(route: RouteOptions): Scope | null | undefined {
  for (const hook of [route.onRequest, route.preHandler].flat()) {
    const scope = requiredScope(hook);
    if (scope !== undefined) return scope;
  }
  return undefined;
}

/**
 * A protected operation's `security` (the bearer scheme) and `x-required-scopes` (the scope its
 * key must hold: a security requirement's own list is for OAuth 2 scopes, which these keys are
 * not), derived from the hook that checks the key. A public operation is left as it is.
 */
export function documentSecurity(schema: FastifySchema, route: RouteOptions): FastifySchema {
  const scope = routeScope(route);
  if (scope === undefined) return schema;
  return {
    ...schema,
    security: [{ [API_KEY_SCHEME]: [] }],
    'x-required-scopes': scope ? [scope] : [],
  } as FastifySchema;
}
