import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem } from './problem.ts';

/**
 * Rate limits per client, announced as in the IETF draft "RateLimit header fields for HTTP"
 * (draft-ietf-httpapi-ratelimit-headers): every answer says the policy (`RateLimit-Policy:
 * "reads";q=1200;w=60`) and what is left (`RateLimit: "reads";r=1187;t=42`); a 429 adds
 * `Retry-After`. A client is its API key (by the key's public prefix, before the key is checked,
 * so a flood of bad keys is limited too) or, without one, its address. Reads and writes have
 * separate budgets. Counters live in this process: several API instances each count their own
 * (a shared store, e.g. Redis, would make the limits global).
 */
export interface ThrottleOptions {
  /** Requests per minute; 0 or undefined: no limit. */
  readsPerMinute?: number;
  writesPerMinute?: number;
  windowMs?: number;
  /** Paths never limited (probes). */
  exempt?: string[];
}

interface Window {
  start: number;
  count: number;
}

const BEARER_PREFIX = /^Bearer cat_([a-z0-9]{8})_/;
const MAX_CLIENTS = 100_000;

export const throttlePlugin = fp<ThrottleOptions>(
  async (app, { readsPerMinute = 0, writesPerMinute = 0, windowMs = 60_000, exempt = [] }) => {
    if (readsPerMinute <= 0 && writesPerMinute <= 0) return;
    const windows = new Map<string, Window>();
    const seconds = Math.round(windowMs / 1000);

    // Forget finished windows now and then, so the map stays bounded by the active clients.
    const sweeper = setInterval(() => {
      const now = Date.now();
      for (const [key, window] of windows) if (now - window.start >= windowMs) windows.delete(key);
    }, windowMs);
    sweeper.unref();
    app.addHook('onClose', async () => clearInterval(sweeper));

    const clientOf = (request: FastifyRequest) => {
      const prefix = BEARER_PREFIX.exec(request.headers.authorization ?? '')?.[1];
      return prefix ? `key:${prefix}` : `ip:${request.ip}`;
    };

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (exempt.includes(request.url.split('?')[0]!)) return;
      const reads = request.method === 'GET' || request.method === 'HEAD';
      const limit = reads ? readsPerMinute : writesPerMinute;
      if (limit <= 0) return;
      const policy = reads ? 'reads' : 'writes';
      const key = `${policy}:${clientOf(request)}`;
      const now = Date.now();
      let window = windows.get(key);
      if (!window || now - window.start >= windowMs) {
        if (!window && windows.size >= MAX_CLIENTS) windows.delete(windows.keys().next().value!);
        window = { start: now, count: 0 };
        windows.set(key, window);
      }
      window.count += 1;
      const reset = Math.max(1, Math.ceil((window.start + windowMs - now) / 1000));
      reply.header('ratelimit-policy', `"${policy}";q=${limit};w=${seconds}`);
      reply.header('ratelimit', `"${policy}";r=${Math.max(0, limit - window.count)};t=${reset}`);
      if (window.count > limit) {
        reply.header('retry-after', String(reset));
        throw new HttpProblem(
          429,
          'rate-limited',
          'Too Many Requests',
          `More than ${limit} ${policy} a minute from this client: retry in ${reset} s.`,
        );
      }
    });
  },
  { name: 'throttle' },
);
