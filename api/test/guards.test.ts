import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import { ConfigError, loadConfig, type Config } from '../src/config.ts';
import type { Database } from '../src/db/database.ts';
import { testConfig, testDatabase } from './support/database.ts';
import { postStream } from './support/http.ts';
import { catalogueChecksum, insertProducts, insertTree, productRow } from './support/fixtures.ts';

const PROBLEM = /^application\/problem\+json/;

describe('guards', () => {
  let database: Database;
  let productId: number;
  const apps: App[] = [];
  // At the top level of the describe: a hook registered inside beforeAll would never run.
  afterAll(async () => {
    for (const app of apps) await app.close();
  });
  beforeEach(() => {
    expect.hasAssertions();
  });

  /** The app as production builds it, with the guards' settings given here (the rest as in every test). */
  async function guardedApp(config: Partial<Config>) {
    const app = await buildApp({ config: testConfig(config), database, logger: false });
    apps.push(app);
    await app.ready();
    return app;
  }

  const stock = async () =>
    (await database.pool.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [productId])).rows[0]!
      .stock;

  beforeAll(async () => {
    database = await testDatabase();
    const ids = await insertTree(database);
    productId = (await insertProducts(database, [productRow({ categoryId: ids.running, stock: 5 })]))[0]!.id;
  });

  describe('rate limits', () => {
    const read = (app: App, remoteAddress: string, key?: string, method: 'GET' | 'HEAD' = 'GET') =>
      app.inject({
        method,
        url: '/v1/categories',
        remoteAddress,
        headers: key ? { authorization: `Bearer ${key}` } : {},
      });
    const write = (app: App, remoteAddress: string, key: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/products/${productId}/stock-adjustments`,
        remoteAddress,
        headers: { authorization: `Bearer ${key}` },
        payload: { delta: 1, reason: 'rate limit test' },
      });

    it('announces the policy on every answer, then refuses with 429 problem+json and Retry-After', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 3, RATE_LIMIT_WRITES_PER_MINUTE: 100 });
      const first = await read(app, '10.0.0.1');
      expect(first.statusCode).toBe(200);
      expect(first.headers['ratelimit-policy']).toBe('"reads";q=3;w=60');
      expect(first.headers.ratelimit).toMatch(/^"reads";r=2;t=\d+$/);
      expect(first.headers['retry-after']).toBeUndefined();
      // HEAD spends the reads budget too.
      expect((await read(app, '10.0.0.1', undefined, 'HEAD')).statusCode).toBe(200);
      expect((await read(app, '10.0.0.1')).statusCode).toBe(200);

      const limited = await read(app, '10.0.0.1');
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['content-type']).toMatch(PROBLEM);
      expect(limited.json()).toMatchObject({
        type: 'https://catalogue.dev/problems/rate-limited',
        title: 'Too Many Requests',
        status: 429,
        detail: expect.stringContaining('retry in'),
      });
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // The reset time and Retry-After name the same moment (draft, section "Server Behavior").
      expect(limited.headers.ratelimit).toBe(`"reads";r=0;t=${retryAfter}`);
      expect(limited.headers['ratelimit-policy']).toBe('"reads";q=3;w=60');
    });

    it('gives each API key its own budget, apart from the address it calls from', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 2, RATE_LIMIT_WRITES_PER_MINUTE: 100 });
      const keyA = (await app.keys.create('a', ['stock:write'])).secret;
      const keyB = (await app.keys.create('b', ['stock:write'])).secret;
      const address = '10.0.1.1';
      const statuses = async (key?: string) => [
        (await read(app, address, key)).statusCode,
        (await read(app, address, key)).statusCode,
        (await read(app, address, key)).statusCode,
      ];
      expect(await statuses(keyA)).toEqual([200, 200, 429]);
      expect(await statuses(keyB)).toEqual([200, 200, 429]);
      expect(await statuses()).toEqual([200, 200, 429]);
      // Another address without a key has its own budget; a spent key stays spent from anywhere.
      expect((await read(app, '10.0.1.2')).statusCode).toBe(200);
      expect((await read(app, '10.0.1.2', keyA)).statusCode).toBe(429);
    });

    it('takes the client address from X-Forwarded-For only from a trusted proxy', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 1, TRUST_PROXY: '127.0.0.1' });
      const viaStorefront = (shopper: string, from = '127.0.0.1') =>
        app.inject({ url: '/v1/categories', remoteAddress: from, headers: { 'x-forwarded-for': shopper } });
      // Two shoppers behind the storefront: a budget each.
      expect((await viaStorefront('203.0.113.1')).statusCode).toBe(200);
      expect((await viaStorefront('203.0.113.2')).statusCode).toBe(200);
      expect((await viaStorefront('203.0.113.1')).statusCode).toBe(429);
      // From anywhere else the header is ignored: forging it earns nothing.
      expect((await viaStorefront('198.51.100.1', '10.9.9.9')).statusCode).toBe(200);
      expect((await viaStorefront('198.51.100.2', '10.9.9.9')).statusCode).toBe(429);
    });

    it('gives a made-up key no budget of its own: it counts against the address', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 1, RATE_LIMIT_WRITES_PER_MINUTE: 100 });
      expect((await read(app, '10.0.2.1', `cat_zzzzzzzz_${'x'.repeat(43)}`)).statusCode).toBe(200);
      // Another made-up key from the same address finds the address's budget spent.
      expect((await read(app, '10.0.2.1', `cat_yyyyyyyy_${'y'.repeat(43)}`)).statusCode).toBe(429);
      // A malformed Authorization header counts against the address too.
      expect((await read(app, '10.0.2.3', 'not-a-key')).statusCode).toBe(200);
      expect((await read(app, '10.0.2.3')).statusCode).toBe(429);
    });

    it('gives writes their own budget, and a refused write changes nothing', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 100, RATE_LIMIT_WRITES_PER_MINUTE: 1 });
      const key = (await app.keys.create('writer', ['stock:write'])).secret;
      const before = await stock();
      const accepted = await write(app, '10.0.3.1', key);
      expect(accepted.statusCode).toBe(201);
      expect(accepted.headers['ratelimit-policy']).toBe('"writes";q=1;w=60');
      const refused = await write(app, '10.0.3.1', key);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toMatch(PROBLEM);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(await stock()).toBe(before + 1);
      // The same key still reads: the reads budget is untouched.
      const reading = await read(app, '10.0.3.1', key);
      expect(reading.statusCode).toBe(200);
      expect(reading.headers['ratelimit-policy']).toBe('"reads";q=100;w=60');
    });

    it('never limits the probes, nor counts them', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 1, RATE_LIMIT_WRITES_PER_MINUTE: 1 });
      for (let i = 0; i < 5; i += 1) {
        for (const url of ['/healthz', '/readyz']) {
          const probe = await app.inject({ url, remoteAddress: '10.0.4.1' });
          expect(probe.statusCode).toBe(200);
          expect(probe.headers.ratelimit).toBeUndefined();
        }
      }
      expect((await read(app, '10.0.4.1')).statusCode).toBe(200);
      expect((await read(app, '10.0.4.1')).statusCode).toBe(429);
    });

    it('is off when a limit is 0 (what tests and the benchmark configure)', async () => {
      const app = await guardedApp({ RATE_LIMIT_READS_PER_MINUTE: 0, RATE_LIMIT_WRITES_PER_MINUTE: 1 });
      const unset = await guardedApp({});
      for (let i = 0; i < 5; i += 1) {
        for (const each of [app, unset]) {
          const response = await read(each, '10.0.5.1');
          expect(response.statusCode).toBe(200);
          expect(response.headers['ratelimit-policy']).toBeUndefined();
        }
      }
    });
  });

  describe('security headers and CORS', () => {
    const allowed = 'https://shop.example';

    it('sends security headers on a JSON answer', async () => {
      const app = await guardedApp({});
      const response = await app.inject('/v1/categories');
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      });
      expect(response.headers['cross-origin-resource-policy']).toMatch(/^(same-site|cross-origin)$/);
      // HSTS is the TLS terminator's.
      expect(response.headers['strict-transport-security']).toBeUndefined();
    });

    it('keeps Swagger UI working', async () => {
      const app = await guardedApp({});
      const page = await app.inject('/docs');
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'self';/);
      for (const asset of ['swagger-ui-bundle.js', 'swagger-initializer.js', 'swagger-ui.css']) {
        expect((await app.inject(`/docs/static/${asset}`)).statusCode).toBe(200);
      }
    });

    it('allows no origin by default', async () => {
      const app = await guardedApp({});
      const simple = await app.inject({ url: '/v1/categories', headers: { origin: 'https://evil.example' } });
      expect(simple.statusCode).toBe(200);
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/v1/products',
        headers: { origin: allowed, 'access-control-request-method': 'POST' },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
    });

    it('opens to the configured origins only, preflight included', async () => {
      const app = await guardedApp({ CORS_ORIGINS: `${allowed},https://admin.example` });
      const simple = await app.inject({ url: '/v1/categories', headers: { origin: allowed } });
      expect(simple.headers['access-control-allow-origin']).toBe(allowed);
      expect(simple.headers.vary).toMatch(/origin/i);
      const exposed = String(simple.headers['access-control-expose-headers'])
        .toLowerCase()
        .split(/\s*,\s*/);
      expect(exposed).toEqual(
        expect.arrayContaining(['etag', 'link', 'ratelimit', 'ratelimit-policy', 'retry-after', 'x-request-id']),
      );

      const preflight = await app.inject({
        method: 'OPTIONS',
        url: `/v1/products/${productId}`,
        headers: {
          origin: 'https://admin.example',
          'access-control-request-method': 'PATCH',
          'access-control-request-headers': 'authorization,content-type,idempotency-key,if-match,if-none-match',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://admin.example');
      const methods = String(preflight.headers['access-control-allow-methods']).split(/\s*,\s*/);
      expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
      const headers = String(preflight.headers['access-control-allow-headers'])
        .toLowerCase()
        .split(/\s*,\s*/);
      expect(headers).toEqual(
        expect.arrayContaining(['authorization', 'content-type', 'idempotency-key', 'if-match', 'if-none-match']),
      );

      const other = await app.inject({ url: '/v1/categories', headers: { origin: 'https://evil.example' } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('lets an allowed origin read a 429 and its Retry-After', async () => {
      const app = await guardedApp({ CORS_ORIGINS: allowed, RATE_LIMIT_READS_PER_MINUTE: 1 });
      const ask = () => app.inject({ url: '/v1/categories', remoteAddress: '10.0.6.1', headers: { origin: allowed } });
      expect((await ask()).statusCode).toBe(200);
      const limited = await ask();
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['access-control-allow-origin']).toBe(allowed);
      expect(limited.headers['retry-after']).toBeDefined();
    });
  });

  describe('body size', () => {
    it('refuses a body over the limit with 413 problem+json, changing nothing', async () => {
      const app = await guardedApp({ BODY_LIMIT_BYTES: 1_024 });
      const key = (await app.keys.create('big', ['stock:write'])).secret;
      const before = await catalogueChecksum(database);
      const stockBefore = await stock();
      const body = JSON.stringify({ delta: 1, reason: 'body limit test' });
      const response = await app.inject({
        method: 'POST',
        url: `/v1/products/${productId}/stock-adjustments`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        // A valid adjustment, padded with JSON whitespace: only its size is wrong.
        payload: body.padEnd(1_025),
      });
      expect(response.statusCode).toBe(413);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.json()).toMatchObject({ status: 413, title: 'Payload Too Large' });
      expect(await catalogueChecksum(database)).toBe(before);
      expect(await stock()).toBe(stockBefore);
      // At the limit, it goes through.
      const small = await app.inject({
        method: 'POST',
        url: `/v1/products/${productId}/stock-adjustments`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: body.padEnd(1_024),
      });
      expect(small.statusCode).toBe(201);
    });

    it('holds an import body to IMPORT_MAX_BYTES instead, counted as it streams (real HTTP)', async () => {
      const app = await guardedApp({ BODY_LIMIT_BYTES: 1_024, IMPORT_MAX_BYTES: 4_096 });
      const key = (await app.keys.create('importer', ['catalog:write'])).secret;
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      const row = (i: number) =>
        `${JSON.stringify({ sku: `LIMIT-${i}`, slug: `limit-${i}`, name: `Limit ${i}`, category: 'running', price: { amount: 100, currency: 'EUR' } })}\n`;
      // Chunked, without Content-Length: the limit is found while reading.
      const send = (rows: number) =>
        postStream(
          `${address}/v1/imports/products`,
          { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
          Array.from({ length: rows }, (_, i) => row(i)),
        );
      const before = await catalogueChecksum(database);
      const over = await send(60); // about 7 KB
      expect(over.status).toBe(413);
      expect(over.headers['content-type']).toMatch(PROBLEM);
      expect(over.headers.connection).toBe('close');
      expect(JSON.parse(over.body)).toMatchObject({ status: 413, detail: 'An import body is at most 4096 bytes.' });
      expect(await catalogueChecksum(database)).toBe(before);
      // Over BODY_LIMIT_BYTES, under IMPORT_MAX_BYTES: imported.
      const under = await send(20); // about 2.4 KB
      expect(under.status).toBe(200);
      expect(JSON.parse(under.body)).toMatchObject({ created: 20, rejected: 0 });
    });
  });

  describe('configuration', () => {
    it('has the documented defaults', () => {
      expect(loadConfig({})).toMatchObject({
        RATE_LIMIT_READS_PER_MINUTE: 1_200,
        RATE_LIMIT_WRITES_PER_MINUTE: 300,
        BODY_LIMIT_BYTES: 1_048_576,
        IMPORT_MAX_BYTES: 1_073_741_824,
        CORS_ORIGINS: '',
      });
    });

    it('refuses a bad CORS_ORIGINS or limit at start-up, naming the variable', () => {
      for (const value of ['shop.example', 'https://shop.example/', 'https://shop.example/path', 'ftp://x.example']) {
        expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
        expect(() => loadConfig({ CORS_ORIGINS: `https://ok.example,${value}` })).toThrow(/CORS_ORIGINS/);
      }
      expect(() => loadConfig({ RATE_LIMIT_READS_PER_MINUTE: '-1' })).toThrow(/RATE_LIMIT_READS_PER_MINUTE/);
      expect(() => loadConfig({ BODY_LIMIT_BYTES: 'lots' })).toThrow(/BODY_LIMIT_BYTES/);
      expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).CORS_ORIGINS).toContain(
        'a.example',
      );
    });
  });
});
