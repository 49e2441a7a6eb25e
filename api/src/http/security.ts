import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Security headers for a JSON API (helmet), and CORS closed unless origins are listed.
 * Strict-Transport-Security is the TLS terminator's to send (the API speaks plain HTTP behind it).
 */
export const securityPlugin = fp<{ corsOrigins: string[] }>(
  async (app: FastifyInstance, { corsOrigins }) => {
    await app.register(helmet, {
      // JSON answers need no script policy; Swagger UI at /docs needs its inline assets.
      contentSecurityPolicy: false,
      strictTransportSecurity: false,
      // Product images may be shown by the storefront on another origin.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      crossOriginEmbedderPolicy: false,
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
    });
    await app.register(cors, {
      // No origin is allowed unless configured: browsers on other sites get no access.
      origin: corsOrigins.length > 0 ? corsOrigins : false,
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
