import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Db } from '../db/database.ts';
import type { Scope } from '../db/schema.ts';
import { HttpProblem } from '../http/problem.ts';
import { bearerToken, KeyRepository, type VerifiedKey } from './keys.ts';

declare module 'fastify' {
  interface FastifyInstance {
    keys: KeyRepository;
    /**
     * A hook that lets the request through only with a valid key, holding `scope` when one is
     * named. The OpenAPI document declares each route's security from the hook it runs.
     */
    requireScope(scope?: Scope): preHandlerAsyncHookHandler;
  }
  interface FastifyRequest {
    apiKey?: VerifiedKey;
  }
}

/** The scope each `requireScope` hook checks (null: any valid key). */
const scopeOfHook = new WeakMap<object, Scope | null>();

/**
 * The scope a route hook made by `requireScope` checks: null for any valid key, undefined when
 * `hook` is not one of them. The OpenAPI document reads it, so it cannot differ from what is enforced.
 */
export const requiredScope = (hook: unknown): Scope | null | undefined =>
  typeof hook === 'function' ? scopeOfHook.get(hook) : undefined;

/**
 * Bearer API keys (RFC 6750): 401 without a valid key, 403 with a key lacking the scope, both as
 * problem+json. Reads stay public; each write route asks for its scope.
 */
export const authPlugin = fp<{ db: Db }>(
  async (app, { db }) => {
    const keys = new KeyRepository(db);
    app.decorate('keys', keys);
    app.decorateRequest('apiKey', undefined);

    const unauthorized = (reply: FastifyReply, detail: string) => {
      reply.header('www-authenticate', 'Bearer realm="catalogue"');
      return new HttpProblem(401, 'unauthorized', 'Unauthorized', detail);
    };

    const requireScope = (scope?: Scope) => async (request: FastifyRequest, reply: FastifyReply) => {
      const header = request.headers.authorization;
      if (!header) throw unauthorized(reply, 'This request needs an API key: Authorization: Bearer <key>.');
      const key = bearerToken(header);
      if (!key) throw unauthorized(reply, 'The Authorization header must be: Bearer <key>.');
      const verified = await keys.verify(key);
      if (!verified) throw unauthorized(reply, 'The API key is not valid, or has been revoked.');
      request.apiKey = verified;
      if (scope && !verified.scopes.includes(scope)) {
        throw new HttpProblem(403, 'forbidden', 'Forbidden', `This API key lacks the '${scope}' scope.`);
      }
    };
    app.decorate('requireScope', (scope?: Scope) => {
      const hook = requireScope(scope);
      scopeOfHook.set(hook, scope ?? null);
      return hook;
    });
  },
  { name: 'auth' },
);
