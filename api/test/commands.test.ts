import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMigrated } from '../src/db/database.ts';
import { emptyDatabase, type TestDatabase } from './support/database.ts';
import { repoRoot, startNode } from '@catalogue/testing/process';

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
    const first = await run('api/src/cli/migrate.ts');
    expect(first).toMatchObject({ code: 0, output: expect.stringContaining('migrated DATABASE_URL') });
    expect(await isMigrated(database)).toBe(true);
    expect((await run('api/src/cli/migrate.ts')).code).toBe(0);
  });

  it('seeds the demo catalogue once, and refuses a second time, changing nothing', async () => {
    const seeded = await run('api/src/cli/seed.ts', ['--products', '250']);
    expect(seeded.code, seeded.output).toBe(0);
    const count = async () =>
      Number((await database.pool.query<{ n: string }>('SELECT count(*) AS n FROM products')).rows[0]!.n);
    expect(await count()).toBe(250);
    const again = await run('api/src/cli/seed.ts', ['--products', '100']);
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/already has \d+ categories/);
    expect(await count()).toBe(250);
  });

  it('creates, lists and revokes API keys, printing a new key once, alone on its last line', async () => {
    const created = await run('api/src/cli/keys.ts', [
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
    const listed = await run('api/src/cli/keys.ts', ['list']);
    expect(listed.output).toContain(`${prefix}\tintegration\tstock:write,catalog:write`);
    expect(listed.output).not.toContain(key.slice('cat_12345678_'.length));
    expect((await run('api/src/cli/keys.ts', ['revoke', '--prefix', prefix])).code).toBe(0);
    expect((await run('api/src/cli/keys.ts', ['list'])).output).toMatch(/\trevoked /);
    expect((await run('api/src/cli/keys.ts', ['revoke', '--prefix', prefix])).code).not.toBe(0);
    const bad = await run('api/src/cli/keys.ts', ['create', '--name', 'x', '--scopes', 'root']);
    expect(bad.code).toBe(64);
    expect(bad.output).toContain('unknown: root');
  });

  describe('import command', () => {
    let folder: string;
    beforeAll(async () => {
      folder = await mkdtemp(join(tmpdir(), 'import-cli-'));
    });
    afterAll(async () => {
      await rm(folder, { recursive: true, force: true });
    });
    const row = (sku: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        sku,
        slug: sku.toLowerCase(),
        name: `Imported ${sku}`,
        category: 'yoga-mats',
        price: { amount: 2500, currency: 'EUR' },
        stock: 3,
        ...extra,
      });
    const file = async (name: string, text: string) => {
      const path = join(folder, name);
      await writeFile(path, text);
      return path;
    };
    const product = async (sku: string) =>
      (await database.pool.query('SELECT name, stock FROM products WHERE sku = $1', [sku])).rows[0];

    it('imports a file, prints the report, and exits 2 when rows were rejected', async () => {
      const ok = await run('api/src/cli/import.ts', [await file('ok.ndjson', `${row('CLI-1')}\n${row('CLI-2')}\n`)]);
      expect(ok.code, ok.output).toBe(0);
      expect(ok.output).toMatch(/2 rows in [\d.]+ s: created 2, updated 0, unchanged 0, rejected 0/);
      expect(await product('CLI-1')).toEqual({ name: 'Imported CLI-1', stock: 3 });

      const csv = await file(
        'some.csv',
        'sku,slug,name,category,price_amount,currency\nCLI-1,cli-1,Renamed,yoga-mats,2500,EUR\nCLI-3,cli-3,Three,yoga-mats,cheap,EUR\n',
      );
      const partly = await run('api/src/cli/import.ts', [csv]);
      expect(partly.code, partly.output).toBe(2);
      expect(partly.output).toContain('created 0, updated 1, unchanged 0, rejected 1');
      expect(partly.output).toContain('line 3 (CLI-3): price_amount: must be an integer');
      expect(await product('CLI-1')).toMatchObject({ name: 'Renamed' });
    });

    it('with --atomic, writes nothing when a row is rejected', async () => {
      const path = await file('atomic.ndjson', `${row('CLI-4')}\n${row('CLI-2', { name: 'Changed' })}\n{"sku":\n`);
      const refused = await run('api/src/cli/import.ts', [path, '--atomic']);
      expect(refused.code, refused.output).toBe(2);
      expect(refused.output).toContain('(--atomic: nothing was written)');
      expect(refused.output).toMatch(/line 3: not valid JSON/);
      expect(await product('CLI-4')).toBeUndefined();
      expect(await product('CLI-2')).toMatchObject({ name: 'Imported CLI-2' });
    });

    it('draws a progress bar on a terminal', async () => {
      const path = await file('bar.ndjson', Array.from({ length: 2_000 }, (_, i) => row(`BAR-${i}`)).join('\n'));
      // script(1) runs the command on a pseudo-terminal, as a person at a terminal runs it.
      const command = `${process.execPath} --import tsx api/src/cli/import.ts ${path}`;
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: database.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code, output).toBe(0);
      expect(output).toMatch(/\r\[#{30}\] 100% [\d.]+\/[\d.]+ MB, 2,000 rows, [\d,]+ rows\/s/);
      expect(output).toContain('created 2000');
    });

    it('refuses a file it cannot read, or of an unknown kind (exit 64)', async () => {
      const missing = await run('api/src/cli/import.ts', [join(folder, 'nope.ndjson')]);
      expect(missing).toMatchObject({ code: 64, output: expect.stringContaining('no such file') });
      const kind = await run('api/src/cli/import.ts', [await file('products.xml', '<products/>')]);
      expect(kind).toMatchObject({ code: 64, output: expect.stringContaining('.ndjson, .jsonl or .csv') });
    });
  });

  it('refuses a bad product count, naming it', async () => {
    const bad = await run('api/src/cli/seed.ts', ['--products', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain('--products');
  });
});
