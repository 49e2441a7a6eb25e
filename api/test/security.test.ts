import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import { createDatabase, type Database } from '../src/db/database.ts';
import { SECURITY_HEADERS } from '../src/http/security.ts';
import { TEST_CURSOR_SECRET, testConfig, testDatabase } from './support/database.ts';
import { insertProducts, insertTree, productRow } from './support/fixtures.ts';
import { freePort, repoRoot } from '@catalogue/testing/process';

/**
 * What docs/security.md promises of the API: no secret in any log line, the security headers on
 * every kind of answer, and the dependency audit's gate. Each `it` names the promise it proves.
 */

/** Every log line the app writes, as pino writes it (one JSON document per line). */
class LogCapture {
  readonly lines: string[] = [];
  write(line: string) {
    this.lines.push(line);
  }
  get records(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

/** Key material past the public prefix: `cat_<prefix>_` followed by any of the secret's characters. */
const KEY_MATERIAL = /cat_[a-z0-9]{8}_[A-Za-z0-9_-]{4,}/;

describe('logs never hold a secret', () => {
  const log = new LogCapture();
  const apps: App[] = [];
  let database: Database;
  let app: App;
  let productId: number;
  /** Every secret the requests below carry, each of which must be absent from every log line. */
  const secrets: string[] = [];
  const keep = (secret: string) => {
    secrets.push(secret);
    return secret;
  };
  /** The part of a `cat_<prefix>_<secret>` key that must never be logged. */
  const secretPart = (key: string) => key.split('_').slice(2).join('_');

  const DB_PASSWORD = 'db-password-never-logged-0451';
  const METRICS_TOKEN = 'metrics-token-never-logged-7731';

  afterAll(async () => {
    for (const each of apps) await each.close();
  });

  async function loggedApp(database: Database, config: Partial<Config> = {}) {
    const built = await buildApp({
      config: testConfig({ LOG_LEVEL: 'trace', ...config }),
      database,
      // A real pino logger at its most talkative level, writing into the capture.
      logger: { level: 'trace', stream: log },
    });
    apps.push(built);
    await built.ready();
    return built;
  }

  beforeAll(async () => {
    database = await testDatabase();
    const ids = await insertTree(database);
    productId = (await insertProducts(database, [productRow({ categoryId: ids.running, stock: 50 })]))[0]!.id;
    // Rate limits on, as in production: they verify the key on every request too.
    app = await loggedApp(database, {
      RATE_LIMIT_READS_PER_MINUTE: 10_000,
      RATE_LIMIT_WRITES_PER_MINUTE: 10_000,
      METRICS_TOKEN,
    });
    keep(TEST_CURSOR_SECRET);
    keep(DB_PASSWORD);
    keep(METRICS_TOKEN);

    const admin = keep((await app.keys.create('admin', ['keys:admin', 'stock:write', 'catalog:write'])).secret);
    const stock = keep((await app.keys.create('stock', ['stock:write'])).secret);
    const reader = keep((await app.keys.create('no scope for stock', ['catalog:write'])).secret);
    const revoked = await app.keys.create('revoked', ['stock:write']);
    keep(revoked.secret);
    await app.keys.revoke(revoked.id);
    // Well formed, with a real key's prefix and a wrong secret; and one with a prefix no key has.
    const forged = keep(`${stock.split('_').slice(0, 2).join('_')}_${'A'.repeat(43)}`);
    const unknown = keep(`cat_zzzzzzzz_${'B'.repeat(43)}`);
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    const adjustWith = (headers: Record<string, string>, body: object = { delta: 1, reason: 'log test' }) =>
      app.inject({
        method: 'POST',
        url: `/v1/products/${productId}/stock-adjustments`,
        headers: { ...headers, 'content-type': 'application/json' },
        payload: body,
      });
    const adjust = (key: string, body?: object) => adjustWith(bearer(key), body);

    const answers = [
      // Valid key: a read, a write, who am I.
      await app.inject({ url: '/v1/products?limit=2', headers: bearer(stock) }),
      await adjust(stock),
      await app.inject({ url: '/v1/keys/me', headers: bearer(stock) }),
      // A key made over the API: its answer holds the new key.
      await app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: { ...bearer(admin), 'content-type': 'application/json' },
        payload: { name: 'made over the API', scopes: ['stock:write'] },
      }),
      // Invalid, revoked, unknown, malformed, lacking the scope.
      await adjust(forged),
      await adjust(revoked.secret),
      await adjust(unknown),
      await adjustWith({ authorization: `Basic ${Buffer.from(`user:${stock}`).toString('base64')}` }),
      await adjustWith({ authorization: stock }),
      await adjust(reader),
      // Valid key, refused input: validation (400), unknown product (404), oversold (409).
      await adjust(stock, { delta: 'many', reason: stock }),
      await app.inject({
        method: 'POST',
        url: '/v1/products/999999/stock-adjustments',
        headers: { ...bearer(stock), 'content-type': 'application/json' },
        payload: { delta: 1, reason: 'x' },
      }),
      await adjust(stock, { delta: -1_000_000, reason: 'oversell' }),
      // A key put in the query string by mistake, under the names clients use for it.
      await app.inject({ url: `/v1/products?api_key=${stock}` }),
      await app.inject({ url: `/v1/products?access_token=${stock}&limit=1` }),
      await app.inject({ url: `/v1/search?q=${stock}` }),
      await app.inject({ url: `/no/such/route?key=${admin}` }),
      await app.inject({ url: `/v1/products/${stock}` }),
      // Cookies (the storefront's admin cookie sent to the API by mistake) and a metrics token.
      await app.inject({ url: '/v1/categories', headers: { cookie: `admin_key=${admin}; lang=en` } }),
      await app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) }),
      await app.inject({ url: `/metrics?token=${METRICS_TOKEN}`, headers: bearer(`${METRICS_TOKEN}-wrong`) }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([
      200, 201, 200, 201, 401, 401, 401, 401, 401, 403, 400, 404, 409, 400, 400, 200, 404, 400, 200, 200, 401,
    ]);
    keep((answers[3]!.json() as { key: string }).key);

    // A plugin that logged headers (none does): the logger's redact paths would blank them.
    app.log.info({ headers: { authorization: `Bearer ${admin}`, cookie: `admin_key=${admin}` } }, 'headers');
    app.log.info({ req: { headers: { authorization: `Bearer ${admin}` } } }, 'nested headers');

    // 5xx answers, from pools given a password in their URL: the test server refusing that
    // password for a database that is not there (a 500, logged with its error and stack), and a
    // server that is down (a 503, logged as a warning).
    const missing = new URL(database.url);
    missing.pathname = '/no_such_database';
    missing.password = DB_PASSWORD;
    const down = `postgres://catalogue:${DB_PASSWORD}@127.0.0.1:${await freePort()}/catalogue`;
    for (const [url, status] of [
      [missing.toString(), 500],
      [down, 503],
    ] as const) {
      const broken = createDatabase(url, { poolSize: 1 });
      try {
        const failing = await loggedApp(broken);
        const write = await failing.inject({
          method: 'POST',
          url: `/v1/products/${productId}/stock-adjustments`,
          headers: { ...bearer(stock), 'content-type': 'application/json' },
          payload: { delta: 1, reason: 'database gone' },
        });
        const read = await failing.inject({ url: '/v1/categories', headers: bearer(admin) });
        expect([write.statusCode, read.statusCode]).toEqual([status, status]);
        await failing.close();
      } finally {
        await broken.close();
      }
    }
  });

  it('logs every request with its id, at trace level, 5xx failures with their error', () => {
    const records = log.records;
    const incoming = records.filter((r) => r.msg === 'incoming request');
    expect(incoming.length).toBeGreaterThanOrEqual(22);
    expect(incoming.every((r) => typeof r.reqId === 'string')).toBe(true);
    // The 500 with its error (message and stack), the 503 as a warning.
    expect(records.some((r) => r.level === 50 && (r.err as { stack?: string } | undefined)?.stack)).toBe(true);
    expect(records.some((r) => r.level === 40 && r.msg === 'database unavailable: answered 503')).toBe(true);
  });

  it('keeps the URL in the log, with the key in a query string cut to its public prefix', () => {
    const urls = log.records.flatMap((r) => {
      const req = r.req as { url?: string } | undefined;
      return req?.url ? [req.url] : [];
    });
    // A parameter named for a credential loses its value; a key anywhere else keeps its prefix.
    expect(urls).toContain('/v1/products?api_key=[redacted]');
    expect(urls).toContain('/v1/products?access_token=[redacted]&limit=1');
    expect(urls).toContain('/no/such/route?key=[redacted]');
    expect(urls.filter((url) => url.startsWith('/v1/search?q='))).toEqual([
      expect.stringMatching(/^\/v1\/search\?q=cat_[a-z0-9]{8}_\[redacted\]$/),
    ]);
    expect(urls.filter((url) => url.startsWith('/v1/products/cat_'))).toEqual([
      expect.stringMatching(/^\/v1\/products\/cat_[a-z0-9]{8}_\[redacted\]$/),
    ]);
  });

  it('never logs a key past its prefix, an Authorization header, a cookie, a token or a password', () => {
    expect(log.lines.length).toBeGreaterThan(0);
    for (const line of log.lines) {
      for (const secret of secrets) {
        expect(line).not.toContain(secret);
        // Half of a secret is still too much.
        const part = secret.startsWith('cat_') ? secretPart(secret) : secret;
        expect(line).not.toContain(part.slice(0, Math.ceil(part.length / 2)));
      }
      expect(line).not.toMatch(KEY_MATERIAL);
      // An Authorization value (the problem details name the scheme only: "Bearer <key>").
      expect(line).not.toMatch(/(bearer|basic) (?!<)\S/i);
      expect(line).not.toMatch(/"(authorization|cookie|set-cookie)":(?!"\[redacted\]")/i);
    }
    // The headers a plugin logged above: there, blanked.
    expect(log.records.find((r) => r.msg === 'headers')?.headers).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
    });
  });
});

describe('security headers on every kind of API answer', () => {
  let app: App;
  let database: Database;
  let productId: number;
  let key: string;

  beforeAll(async () => {
    database = await testDatabase();
    const ids = await insertTree(database);
    productId = (await insertProducts(database, [productRow({ categoryId: ids.running })]))[0]!.id;
    app = await buildApp({
      config: testConfig({ RATE_LIMIT_READS_PER_MINUTE: 1 }),
      database,
      logger: false,
    });
    await app.ready();
    key = (await app.keys.create('headers', ['stock:write'])).secret;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('sends nosniff, X-Frame-Options, Referrer-Policy and the rest on JSON, problems, 304, 429, HTML, SVG and probes', async () => {
    const product = await app.inject({ url: `/v1/products/${productId}`, remoteAddress: '192.0.2.1' });
    const answers = {
      json: product,
      notModified: await app.inject({
        url: `/v1/products/${productId}`,
        remoteAddress: '192.0.2.2',
        headers: { 'if-none-match': String(product.headers.etag) },
      }),
      rateLimited: await app.inject({ url: `/v1/products/${productId}`, remoteAddress: '192.0.2.1' }),
      badRequest: await app.inject({ url: '/v1/products?limit=0x10', remoteAddress: '192.0.2.3' }),
      unauthorized: await app.inject({
        method: 'POST',
        url: `/v1/products/${productId}/stock-adjustments`,
        payload: { delta: 1, reason: 'no key' },
      }),
      notFound: await app.inject({ url: '/nowhere', remoteAddress: '192.0.2.4' }),
      write: await app.inject({
        method: 'POST',
        url: `/v1/products/${productId}/stock-adjustments`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: { delta: 1, reason: 'headers' },
      }),
      docs: await app.inject({ url: '/docs', remoteAddress: '192.0.2.5' }),
      openapi: await app.inject({ url: '/openapi.json', remoteAddress: '192.0.2.6' }),
      image: await app.inject({ url: '/media/placeholder/headers.svg', remoteAddress: '192.0.2.7' }),
      health: await app.inject('/healthz'),
    };
    expect(Object.fromEntries(Object.entries(answers).map(([kind, answer]) => [kind, answer.statusCode]))).toEqual({
      json: 200,
      notModified: 304,
      rateLimited: 429,
      badRequest: 400,
      unauthorized: 401,
      notFound: 404,
      write: 201,
      docs: 200,
      openapi: 200,
      image: 200,
      health: 200,
    });
    for (const [kind, answer] of Object.entries(answers)) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        expect(answer.headers[name], `${kind}: ${name}`).toBe(value);
      }
      // The promised values, spelled out (SECURITY_HEADERS could change without the doc).
      expect(answer.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      });
      // Nothing that names the server's software.
      expect(answer.headers['x-powered-by'], kind).toBeUndefined();
      expect(answer.headers.server, kind).toBeUndefined();
    }
  });
});

describe('dependency audit (scripts/audit.mjs)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'catalogue-audit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const advisory = (id: string, name: string, severity: string) => ({
    source: Number(id.replace(/\D/g, '').slice(0, 6)),
    name,
    dependency: name,
    title: `${severity} issue in ${name}`,
    url: `https://github.com/advisories/${id}`,
    severity,
    range: '<9.9.9',
  });
  /** An `npm audit --json` report (auditReportVersion 2) with these advisories. */
  const report = (advisories: ReturnType<typeof advisory>[]) => {
    const vulnerabilities: Record<string, unknown> = {};
    const counts = { info: 0, low: 0, moderate: 0, high: 0, critical: 0, total: 0 };
    for (const a of advisories) {
      vulnerabilities[a.name] = {
        name: a.name,
        severity: a.severity,
        isDirect: false,
        via: [a],
        effects: [],
        range: a.range,
        nodes: [],
        fixAvailable: false,
      };
      counts[a.severity as keyof typeof counts] += 1;
      counts.total += 1;
    }
    return {
      auditReportVersion: 2,
      vulnerabilities,
      metadata: { vulnerabilities: counts, dependencies: { prod: 120, total: 120 } },
    };
  };
  const exceptionsDoc = (entries: object[]) =>
    `# Security\n\nSome prose.\n\n<!-- audit-exceptions:start -->\n\`\`\`json\n${JSON.stringify(entries, null, 2)}\n\`\`\`\n<!-- audit-exceptions:end -->\n`;

  async function audit(production: object | string, full: object | string, doc: string) {
    const files = {
      production: join(dir, 'production.json'),
      full: join(dir, 'full.json'),
      doc: join(dir, 'security.md'),
    };
    await writeFile(files.production, typeof production === 'string' ? production : JSON.stringify(production));
    await writeFile(files.full, typeof full === 'string' ? full : JSON.stringify(full));
    await writeFile(files.doc, doc);
    const args = [
      'scripts/audit.mjs',
      '--production',
      files.production,
      '--full',
      files.full,
      '--exceptions',
      files.doc,
    ];
    return promisify(execFile)(process.execPath, args, { cwd: repoRoot }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        output: error.stdout + error.stderr,
      }),
    );
  }

  it('passes a clean report and prints the counts', async () => {
    const clean = report([advisory('GHSA-aaaa-bbbb-cccc', 'left-pad', 'moderate')]);
    const result = await audit(clean, report([]), exceptionsDoc([]));
    expect(result.code).toBe(0);
    expect(result.output).toMatch(
      /production dependencies: 120; advisories: 0 critical, 0 high, 1 moderate, 0 low, 0 info/,
    );
  });

  it('fails on a high or critical advisory the doc does not explain, naming it', async () => {
    const production = report([advisory('GHSA-1111-2222-3333', 'fastify-ish', 'high')]);
    const result = await audit(production, report([]), exceptionsDoc([]));
    expect(result.code).toBe(1);
    expect(result.output).toContain('GHSA-1111-2222-3333');
    expect(result.output).toContain('fastify-ish');
    const critical = await audit(
      report([advisory('GHSA-4444-5555-6666', 'pg-ish', 'critical')]),
      report([]),
      exceptionsDoc([]),
    );
    expect(critical.code).toBe(1);
  });

  it('also gates the devDependencies bundled into the storefront build (SvelteKit, Svelte, devalue)', async () => {
    const full = report([
      advisory('GHSA-7777-8888-9999', 'devalue', 'high'),
      advisory('GHSA-0000-0000-0001', 'vite', 'high'),
    ]);
    const result = await audit(report([]), full, exceptionsDoc([]));
    expect(result.code).toBe(1);
    expect(result.output).toContain('GHSA-7777-8888-9999');
    // vite builds the storefront and never runs in production: counted, not gated.
    expect(result.output).toMatch(/build and test tools only \(not gated\): advisories: 0 critical, 1 high/);
    expect(result.output).not.toMatch(/unexplained.*GHSA-0000-0000-0001/);
  });

  it('passes an advisory explained in docs/security.md, and refuses an explanation left empty or expired', async () => {
    const production = report([advisory('GHSA-1111-2222-3333', 'fastify-ish', 'high')]);
    const explained = {
      advisory: 'GHSA-1111-2222-3333',
      package: 'fastify-ish',
      reason: 'Only reachable through X, which we never call.',
    };
    expect((await audit(production, report([]), exceptionsDoc([explained]))).code).toBe(0);
    expect((await audit(production, report([]), exceptionsDoc([{ ...explained, reason: ' ' }]))).code).toBe(1);
    expect((await audit(production, report([]), exceptionsDoc([{ ...explained, expires: '2000-01-01' }]))).code).toBe(
      1,
    );
  });

  it('fails and says so plainly when the registry refuses the audit (as this machine’s registry does)', async () => {
    // What npm 11 prints here: the registry answers the bulk advisory POST with 405.
    const refused = {
      message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
      method: 'POST',
      uri: 'https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
      statusCode: 405,
      body: '',
      error: { summary: '', detail: '' },
    };
    const result = await audit(refused, refused, exceptionsDoc([]));
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/no audit was made/i);
    expect(result.output).toContain('405 Method Not Allowed');
    expect((await audit('not json', report([]), exceptionsDoc([]))).code).toBe(2);
  });

  it('reads the exceptions from the real docs/security.md, each one explained', async () => {
    const doc = await readFile(join(repoRoot, 'docs/security.md'), 'utf8');
    const block = /<!-- audit-exceptions:start -->\s*```json\n([\s\S]*?)```\s*<!-- audit-exceptions:end -->/.exec(doc);
    expect(block).not.toBeNull();
    const entries = JSON.parse(block![1]!) as { advisory: string; package: string; reason: string }[];
    for (const entry of entries) {
      expect(entry.advisory).toMatch(/^GHSA-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/);
      expect(entry.reason.trim().length).toBeGreaterThan(20);
    }
  });
});
