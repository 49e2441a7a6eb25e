import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import type { Database } from '../src/db/database.ts';
import { TEST_CURSOR_SECRET, testDatabase } from './support/database.ts';
import { catalogueChecksum, insertProducts, insertTree, productRow } from './support/fixtures.ts';

describe('guards', () => {
  let database: Database;
  const apps: App[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  const guardedApp = async (config: Parameters<typeof buildApp>[0]['config'] extends infer C ? Partial<C> : never) => {
    const app = await buildApp({
      config: { CURSOR_SECRET: TEST_CURSOR_SECRET, LOG_LEVEL: 'silent', RESPONSE_CACHE_TTL_MS: 0, ...config },
      database,
      logger: false,
    });
    apps.push(app);
    await app.ready();
    return app;
  };

  beforeAll(async () => {
    database = await testDatabase();
    const ids = await insertTree(database);
    await insertProducts(database, [productRow({ categoryId: ids.running, stock: 5 })]);
  });

  describe('rate limits', () => {
    it('announces the policy and the budget left, then answers 429 problem+json with Retry-After', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 3, RATE_LIMIT_WRITES_PER_MINUTE: 2 });
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 4; i += 1) {
        last = await app.inject({ url: '/v1/categories', remoteAddress: '10.0.0.1' });
        statuses.push(last.statusCode);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(last!.headers['ratelimit-policy']).toBe('"reads";q=3;w=60');
      expect(last!.headers.ratelimit).toMatch(/^"reads";r=0;t=\d+$/);
      expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
      expect(last!.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(last!.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });
      // Another address has its own budget; the probes are never limited.
      expect((await app.inject({ url: '/v1/categories', remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    });

    it('counts writes apart from reads, and each API key apart from the address', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 2, RATE_LIMIT_WRITES_PER_MINUTE: 1 });
      const keyA = (await app.keys.create('a', ['stock:write'])).secret;
      const keyB = (await app.keys.create('b', ['stock:write'])).secret;
      const write = (key?: string) =>
        app.inject({
          method: 'POST',
          url: '/v1/products/1/stock-adjustments',
          remoteAddress: '10.0.1.1',
          headers: key ? { authorization: `Bearer ${key}` } : {},
          payload: { delta: 1, reason: 'x' },
        });
      expect((await write(keyA)).statusCode).toBe(201);
      const limited = await write(keyA);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['ratelimit-policy']).toBe('"writes";q=1;w=60');
      // The same address with another key, and reads with the same key, still have budget.
      expect((await write(keyB)).statusCode).toBe(201);
      const read = await app.inject({
        url: '/v1/categories',
        remoteAddress: '10.0.1.1',
        headers: { authorization: `Bearer ${keyA}` },
      });
      expect(read.statusCode).toBe(200);
      // The 429 changed nothing: only the two accepted adjustments of +1 went through.
      const { rows } = await database.pool.query<{ stock: number }>('SELECT stock FROM products WHERE id = 1');
      expect(rows[0]!.stock).toBe(7);
    });
  });

  describe('headers, CORS and body size', () => {
    it('sends security headers on a JSON answer', async () => {
      const app = await guardedApp({});
      const response = await app.inject('/v1/categories');
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      });
    });

    it('allows no other origin by default', async () => {
      const app = await guardedApp({});
      const simple = await app.inject({ url: '/v1/categories', headers: { origin: 'https://evil.example' } });
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/v1/products',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('allows the configured origins, preflight included', async () => {
      const app = await guardedApp({ CORS_ORIGINS: 'https://shop.example,https://admin.example' });
      const simple = await app.inject({ url: '/v1/categories', headers: { origin: 'https://shop.example' } });
      expect(simple.headers['access-control-allow-origin']).toBe('https://shop.example');
      expect(String(simple.headers['access-control-expose-headers'])).toContain('ETag');
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/v1/products/1/stock-adjustments',
        headers: {
          origin: 'https://admin.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,idempotency-key',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://admin.example');
      expect(String(preflight.headers['access-control-allow-headers'])).toContain('Idempotency-Key');
      const other = await app.inject({ url: '/v1/categories', headers: { origin: 'https://evil.example' } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('refuses a body over the limit with 413 problem+json, changing nothing', async () => {
      const app = await guardedApp({ BODY_LIMIT_BYTES: 1_024 });
      const key = (await app.keys.create('big', ['stock:write'])).secret;
      const before = await catalogueChecksum(database);
      const response = await app.inject({
        method: 'POST',
        url: '/v1/products/1/stock-adjustments',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ delta: 1, reason: 'x'.repeat(2_000) }),
      });
      expect(response.statusCode).toBe(413);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await catalogueChecksum(database)).toBe(before);
    });

    it('refuses a bad CORS_ORIGINS at start-up, naming it', () => {
      for (const value of ['shop.example', 'https://shop.example/path', 'ftp://x.example']) {
        expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
        expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/CORS_ORIGINS/);
      }
      expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).CORS_ORIGINS).toContain(
        'a.example',
      );
    });
  });
});
