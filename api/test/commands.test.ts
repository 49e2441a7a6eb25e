import { beforeAll, describe, expect, it } from 'vitest';
import { isMigrated } from '../src/db/database.ts';
import { emptyDatabase, type TestDatabase } from './support/database.ts';
import { startNode } from './support/process.ts';

/** `npm run migrate` and `npm run seed` against an external database (DATABASE_URL). */
describe('migrate and seed commands', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await emptyDatabase();
  });

  const run = async (script: string, args: string[] = []) => {
    const running = startNode(['--import', 'tsx', script, ...args], { DATABASE_URL: database.url });
    return { code: await running.exited, output: running.output() };
  };

  it('migrates an empty database, and again without harm', async () => {
    expect(await isMigrated(database)).toBe(false);
    const first = await run('api/src/db/migrate-cli.ts');
    expect(first).toMatchObject({ code: 0, output: expect.stringContaining('migrated DATABASE_URL') });
    expect(await isMigrated(database)).toBe(true);
    expect((await run('api/src/db/migrate-cli.ts')).code).toBe(0);
  });

  it('seeds the demo catalogue once, and refuses a second time, changing nothing', async () => {
    const seeded = await run('api/src/seed/cli.ts', ['--products', '250']);
    expect(seeded.code, seeded.output).toBe(0);
    const count = async () =>
      Number((await database.pool.query<{ n: string }>('SELECT count(*) AS n FROM products')).rows[0]!.n);
    expect(await count()).toBe(250);
    const again = await run('api/src/seed/cli.ts', ['--products', '100']);
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/already has \d+ categories/);
    expect(await count()).toBe(250);
  });

  it('creates, lists and revokes API keys, printing a new key once, alone on its last line', async () => {
    const created = await run('api/src/auth/keys-cli.ts', [
      'create',
      '--name',
      'integration',
      '--scopes',
      'stock:write,catalog:write',
    ]);
    expect(created.code, created.output).toBe(0);
    const key = created.output.trim().split('\n').at(-1)!;
    expect(key).toMatch(/^cat_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    const prefix = key.split('_')[1]!;
    const listed = await run('api/src/auth/keys-cli.ts', ['list']);
    expect(listed.output).toContain(`${prefix}\tintegration\tstock:write,catalog:write`);
    expect(listed.output).not.toContain(key.slice('cat_12345678_'.length));
    expect((await run('api/src/auth/keys-cli.ts', ['revoke', '--prefix', prefix])).code).toBe(0);
    expect((await run('api/src/auth/keys-cli.ts', ['list'])).output).toMatch(/\trevoked /);
    expect((await run('api/src/auth/keys-cli.ts', ['revoke', '--prefix', prefix])).code).not.toBe(0);
    const bad = await run('api/src/auth/keys-cli.ts', ['create', '--name', 'x', '--scopes', 'root']);
    expect(bad.code).toBe(64);
    expect(bad.output).toContain('unknown: root');
  });

  it('refuses a bad product count, naming it', async () => {
    const bad = await run('api/src/seed/cli.ts', ['--products', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain('--products');
  });
});
