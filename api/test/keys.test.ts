import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../src/app.ts';
import { testApp, testDatabase, type TestDatabase } from './support/database.ts';

describe('API keys over the API', () => {
  let database: TestDatabase;
  let app: App;
  let admin: string;
  let writer: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    database = await testDatabase();
    app = await testApp(database);
    admin = (await app.keys.create('admin', ['keys:admin'])).secret;
    writer = (await app.keys.create('writer', ['stock:write', 'catalog:write'])).secret;
  });

  it('creates a key shown once, lists keys without secrets, and revokes', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: auth(admin),
      payload: { name: 'partner', scopes: ['stock:write'] },
    });
    expect(created.statusCode).toBe(201);
    const key = created.json();
    expect(key).toMatchObject({ name: 'partner', scopes: ['stock:write'], revoked_at: null });
    expect(key.key).toMatch(new RegExp(`^cat_${key.prefix}_`));
    // The new key works.
    expect((await app.inject({ url: '/v1/products/1/stock-movements', headers: auth(key.key) })).statusCode).toBe(404);

    const listed = await app.inject({ url: '/v1/keys', headers: auth(admin) });
    expect(listed.json().data.map((k: { name: string }) => k.name)).toEqual(['admin', 'writer', 'partner']);
    expect(listed.body).not.toContain(key.key.slice('cat_12345678_'.length));

    expect((await app.inject({ method: 'DELETE', url: `/v1/keys/${key.id}`, headers: auth(admin) })).statusCode).toBe(
      204,
    );
    expect((await app.inject({ url: '/v1/products/1/stock-movements', headers: auth(key.key) })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: `/v1/keys/${key.id}`, headers: auth(admin) })).statusCode).toBe(
      404,
    );
  });

  it('refuses bad bodies', async () => {
    for (const payload of [
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['root'] },
      { name: '', scopes: ['stock:write'] },
      { scopes: ['stock:write'] },
    ]) {
      const response = await app.inject({ method: 'POST', url: '/v1/keys', headers: auth(admin), payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });

  it('refuses a query parameter a key route does not take (400), creating and revoking nothing', async () => {
    const before = (await app.keys.list()).map((k) => [k.id, k.revokedAt]);
    const { id } = await app.keys.create('kept', ['stock:write']);
    for (const [method, url, payload] of [
      ['GET', '/v1/keys/me?verbose=1', undefined],
      ['GET', '/v1/keys?include=secrets', undefined],
      ['POST', '/v1/keys?scope=keys:admin', { name: 'x', scopes: ['stock:write'] }],
      ['DELETE', `/v1/keys/${id}?force=true`, undefined],
    ] as const) {
      const response = await app.inject({ method, url, headers: auth(admin), payload });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().errors[0]).toMatchObject({ in: 'query', detail: 'is not a known parameter' });
    }
    const after = (await app.keys.list()).map((k) => [k.id, k.revokedAt]);
    expect(after).toEqual([...before, [id, null]]);
  });

  it('tells any valid key its own name and scopes, and nothing without one', async () => {
    const { secret } = await app.keys.create('storefront admin', ['stock:write']);
    const me = await app.inject({ url: '/v1/keys/me', headers: { authorization: `Bearer ${secret}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ name: 'storefront admin', scopes: ['stock:write'] });
    expect(me.body).not.toContain(secret.split('_')[2]!);
    expect((await app.inject({ url: '/v1/keys/me' })).statusCode).toBe(401);
    expect(
      (await app.inject({ url: '/v1/keys/me', headers: { authorization: 'Bearer cat_nope_nope' } })).statusCode,
    ).toBe(401);
  });

  it('is closed to keys without keys:admin', async () => {
    for (const [headers, status] of [
      [{}, 401],
      [auth(writer), 403],
    ] as const) {
      expect((await app.inject({ url: '/v1/keys', headers })).statusCode).toBe(status);
      const create = await app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers,
        payload: { name: 'x', scopes: ['keys:admin'] },
      });
      expect(create.statusCode).toBe(status);
      expect((await app.inject({ method: 'DELETE', url: '/v1/keys/1', headers })).statusCode).toBe(status);
    }
    expect((await app.keys.list()).filter((k) => k.name === 'x')).toEqual([]);
  });

  it('verifies the key once per request, for the rate limits and the scope check alike', async () => {
    const limited = await testApp(database, {
      config: { RATE_LIMIT_READS_PER_MINUTE: 1_000, RATE_LIMIT_WRITES_PER_MINUTE: 1_000 },
    });
    const key = (await limited.keys.create('counted', ['keys:admin'])).secret;
    const verify = vi.spyOn(limited.keys, 'verify');
    const listed = await limited.inject({ url: '/v1/keys', headers: auth(key) });
    expect(listed.statusCode).toBe(200);
    // Counted against the key's own budget.
    expect(listed.headers['ratelimit']).toMatch(/^"reads";r=999;/);
    expect(verify).toHaveBeenCalledTimes(1);
  });
});
