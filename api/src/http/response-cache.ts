import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';

/**
 * A short-lived, in-process cache of public GET answers (a "micro-cache"), for routes that opt in
 * with `config: { responseCache: true }`.
 *
 * Why: those answers already say `Cache-Control: public, max-age=…`, so any CDN or browser may
 * reuse them for longer than this cache does; keeping them here for a second lets a hot page (the
 * home page, a popular category) cost one database query per second instead of one per request,
 * and concurrent identical misses share one query rather than stampeding the database. The TTL
 * stays below the advertised max-age, so a client sees nothing staler than it was promised.
 * Bounded by entry count and bytes (least recently used first), and expired entries are dropped
 * when they expire (`ttlAutopurge`): a cache of one-second answers holds about one second's worth,
 * rather than filling to its bounds with answers nobody will be given.
 * The store is an `lru-cache` (https://isaacs.github.io/node-lru-cache/).
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    responseCache?: boolean;
  }
  interface FastifyInstance {
    /** What the response cache holds now (absent when it is off). */
    responseCache?: { entries(): number; bytes(): number };
  }
}

export interface ResponseCacheOptions {
  /** 0 turns the cache off. */
  ttlMs: number;
  maxEntries?: number;
  maxBytes?: number;
}

interface Entry {
  payload: string;
  headers: Record<string, string>;
}

const KEPT_HEADERS = ['content-type', 'etag', 'cache-control', 'link'] as const;

const pending = Symbol('responseCachePending');

type CachedRequest = FastifyRequest & { [pending]?: { key: string; done: () => void } };

export const responseCachePlugin = fp<ResponseCacheOptions>(
  async (app: FastifyInstance, { ttlMs, maxEntries = 10_000, maxBytes = 64 * 1024 * 1024 }) => {
    if (ttlMs <= 0) return;
    const entries = new LRUCache<string, Entry>({
      max: maxEntries,
      maxSize: maxBytes,
      // One answer never takes more than a sixteenth of the cache: a larger one is not kept.
      maxEntrySize: maxBytes / 16,
      sizeCalculation: (entry) => entry.payload.length || 1,
      ttl: ttlMs,
      ttlAutopurge: true,
    });
    const inflight = new Map<string, Promise<void>>();

    app.decorate('responseCache', { entries: () => entries.size, bytes: () => entries.calculatedSize });

    const serve = (reply: FastifyReply, entry: Entry) => {
      reply.headers(entry.headers);
      return reply.send(entry.payload);
    };

    app.addHook('onRequest', async (request: CachedRequest, reply) => {
      if (request.method !== 'GET' || !request.routeOptions.config.responseCache) return;
      const key = request.url;
      let entry = entries.get(key);
      if (!entry && inflight.has(key)) {
        // Someone is already asking the database the same question: wait for that answer (but
        // never longer than the TTL: a lost answer must not hold anyone up).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([inflight.get(key), new Promise((resolve) => (timer = setTimeout(resolve, ttlMs)))]);
        clearTimeout(timer);
        entry = entries.get(key);
      }
      if (entry) return serve(reply, entry);
      let done!: () => void;
      inflight.set(key, new Promise<void>((resolve) => (done = resolve)));
      request[pending] = { key, done };
    });

    app.addHook('onSend', async (request: CachedRequest, reply, payload) => {
      const slot = request[pending];
      if (!slot || reply.statusCode !== 200 || typeof payload !== 'string') return;
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const value = reply.getHeader(name);
        if (value !== undefined) headers[name] = String(value);
      }
      entries.set(slot.key, { payload, headers });
    });

    const settle = async (request: CachedRequest) => {
      const slot = request[pending];
      if (!slot) return;
      request[pending] = undefined;
      inflight.delete(slot.key);
      slot.done();
    };
    app.addHook('onResponse', settle);
    app.addHook('onRequestAbort', settle);
    app.addHook('onClose', async () => entries.clear());
  },
  { name: 'response-cache', dependencies: ['@fastify/etag'] },
);
