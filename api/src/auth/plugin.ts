import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Db } from '../db/database.ts';
import type { Scope } from '../db/schema.ts';
import { HttpProblem } from '../http/problem.ts';
import { bearerToken, KeyRepository, type VerifiedKey } from './keys.ts';

/** What a request's Authorization header proved: no header, not `Bearer <key>`, a refused key, or a valid one. */
export type Credentials = 'none' | 'malformed' | 'refused' | 'verified';

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
    /** Set once per request, before any other hook reads it (rate limits, scope checks). */
    credentials: Credentials;
    /** The verified key, when `credentials` is 'verified'. */
    apiKey?: VerifiedKey;
  }
}

const UNAUTHORIZED: Record<Exclude<Credentials, 'verified'>, string> = {
  none: 'This request needs an API key: Authorization: Bearer <key>.',
  malformed: 'The Authorization header must be: Bearer <key>.',
  refused: 'The API key is not valid, or has been revoked.',
};

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
 * problem+json. Reads stay public; each write route asks for its scope. The key is verified once,
 * as the request arrives: the rate limits count a client by it, and the scope checks read it.
 */
export const authPlugin = fp<{ db: Db }>(
  async (app, { db }) => {
    const keys = new KeyRepository(db);
    app.decorate('keys', keys);
    app.decorateRequest('credentials', 'none');
    app.decorateRequest('apiKey', undefined);

    app.addHook('onRequest', async (request) => {
      const header = request.headers.authorization;
      if (!header) return;
      const token = bearerToken(header);
      request.apiKey = token ? await keys.verify(token) : undefined;
      request.credentials = !token ? 'malformed' : request.apiKey ? 'verified' : 'refused';
    });

    const requireScope = (scope?: Scope) => async (request: FastifyRequest, reply: FastifyReply) => {
      const { credentials, apiKey } = request;
      if (credentials !== 'verified' || !apiKey) {
        reply.header('www-authenticate', 'Bearer realm="catalogue"');
        const refusal = credentials === 'verified' ? 'refused' : credentials;
        throw new HttpProblem(401, 'unauthorized', 'Unauthorized', UNAUTHORIZED[refusal]);
      }
      if (scope && !apiKey.scopes.includes(scope)) {
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
