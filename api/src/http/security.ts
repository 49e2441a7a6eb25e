import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Security headers for a JSON API: the set helmet sends, fixed once and written in one call per
 * answer (helmet's per-request middleware halved the throughput of cached pages, measured with
 * `npm run bench`). Strict-Transport-Security is the TLS terminator's to send: the API speaks
 * plain HTTP behind it. No Content-Security-Policy: a browser renders no JSON answer, and
 * Swagger UI's page at /docs sends its own (openapi/docs.ts).
 */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // Product images may be shown by a storefront on another origin.
  'cross-origin-resource-policy': 'cross-origin',
  'origin-agent-cluster': '?1',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
} as const;

/** CORS is closed unless origins are listed: with none, no CORS header is ever sent. */
export const securityPlugin = fp<{ corsOrigins: string[] }>(
  async (app: FastifyInstance, { corsOrigins }) => {
    app.addHook('onRequest', async (_request, reply) => {
      reply.headers(SECURITY_HEADERS);
    });
    if (corsOrigins.length === 0) return;
    await app.register(cors, {
      origin: corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-Match', 'If-None-Match'],
      exposedHeaders: [
        'ETag',
        'Link',
        'Location',
        'RateLimit',
        'RateLimit-Policy',
        'Retry-After',
        'X-Request-Id',
        'Idempotent-Replayed',
      ],
      maxAge: 600,
    });
  },
  { name: 'security' },
);
