import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem } from './problem.ts';

/**
 * Rate limits per client, reads (GET, HEAD) and writes (every other method) on separate budgets.
 *
 * A client is its verified API key (`clientKey`, read from what the auth plugin verified as the
 * request arrived), or else its address: a made-up key earns no budget of its own.
 * @fastify/rate-limit keeps
 * the counters, in this process's memory: several API instances would each count their own,
 * until a shared store (its `redis` option) makes the limits global.
 *
 * Announced as in the IETF draft "RateLimit header fields for HTTP"
 * (https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/): the policy
 * (`RateLimit-Policy: "reads";q=1200;w=60`) and what is left of it (`RateLimit: "reads";r=1187;t=42`).
 * The plugin's own `enableDraftSpec` sends the older `RateLimit-Limit/-Remaining/-Reset` trio and
 * no policy, so it writes no header here. Over the limit: a 429 problem with `Retry-After`.
 */
export interface RateLimitOptions {
  /** Requests per minute (RATE_LIMIT_READS_PER_MINUTE, RATE_LIMIT_WRITES_PER_MINUTE); 0: no limit. */
  readsPerMinute: number;
  writesPerMinute: number;
  /** Routes never limited (probes, metrics), as declared (`/healthz`). */
  exempt?: string[];
  /** The client's verified credential (a key's public prefix), set by an earlier onRequest hook. */
  clientKey: (request: FastifyRequest) => string | undefined;
}

const WINDOW_SECONDS = 60;
/** Clients remembered at once (least recently seen forgotten first). */
const MAX_CLIENTS = 100_000;

type Policy = 'reads' | 'writes';

const policyOf = (request: FastifyRequest): Policy =>
  request.method === 'GET' || request.method === 'HEAD' ? 'reads' : 'writes';

export const rateLimitPlugin = fp<RateLimitOptions>(
  async (app: FastifyInstance, { readsPerMinute, writesPerMinute, exempt = [], clientKey }) => {
    /** `key:<credential>` for a verified client, else `ip:<address>`. */
    const clientOf = (request: FastifyRequest) => {
      const key = clientKey(request);
      // IPv6 addresses count per /64, what one subscriber usually holds.
      return key ? `key:${key}` : `ip:${normalizeIP(request.ip)}`;
    };
    const limits: Record<Policy, number> = { reads: readsPerMinute, writes: writesPerMinute };
    if (limits.reads <= 0 && limits.writes <= 0) return;
    const exempted = new Set(exempt);

    // global: false: no route is limited by the plugin itself; the hook below asks it, so that
    // exemptions, the two budgets and the answer's shape stay in one place.
    await app.register(rateLimit, {
      global: false,
      cache: MAX_CLIENTS,
      timeWindow: WINDOW_SECONDS * 1000,
      keyGenerator: (request) => `${policyOf(request)}:${clientOf(request)}`,
      max: (request) => limits[policyOf(request)],
    });
    const count = app.createRateLimit();

    // Registered before the response cache, so a cached answer is counted too.
    app.addHook('onRequest', async (request, reply) => {
      const policy = policyOf(request);
      // A CORS preflight carries no key and is answered without work: a 429 would only turn a
      // browser's write into an opaque CORS failure.
      if (limits[policy] <= 0 || request.method === 'OPTIONS') return;
      if (request.routeOptions.url !== undefined && exempted.has(request.routeOptions.url)) return;
      const state = await count(request);
      if (state.isAllowed) return;
      reply.header('ratelimit-policy', `"${policy}";q=${state.max};w=${WINDOW_SECONDS}`);
      reply.header('ratelimit', `"${policy}";r=${state.remaining};t=${state.ttlInSeconds}`);
      if (!state.isExceeded) return;
      reply.header('retry-after', String(state.ttlInSeconds));
      throw new HttpProblem(
        429,
        'rate-limited',
        'Too Many Requests',
        `More than ${state.max} ${policy} a minute from this client: retry in ${state.ttlInSeconds} s.`,
      );
    });
  },
  { name: 'rate-limit' },
);
