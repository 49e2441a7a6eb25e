import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { alive, freePort, startNode, waitFor, type Running } from '@catalogue/testing/process';

/**
 * The real server entry, as `npm start` runs it: embedded PostgreSQL under DATA_DIR, migrations,
 * the demo seed on the first start only, graceful shutdown that leaves no process behind.
 */
describe('the API server process (embedded PostgreSQL)', () => {
  let dataDir: string;
  const started: Running[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'catalogue-server-'));
  });
  afterAll(async () => {
    for (const running of started) running.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  async function startServer(env: Record<string, string> = {}) {
    const port = await freePort();
    const running = startNode(['--import', 'tsx', 'api/src/server.ts'], {
      DATA_DIR: dataDir,
      API_PORT: String(port),
      SEED_PRODUCTS: '300',
      ...env,
    });
    started.push(running);
    await waitFor(`http://127.0.0.1:${port}/readyz`, 90_000, running);
    return { running, base: `http://127.0.0.1:${port}` };
  }

  async function postmasterPid(): Promise<number> {
    const pidFile = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
    return Number(pidFile.split('\n')[0]);
  }

  async function catalogueSize(base: string) {
    const categories = (await (await fetch(`${base}/v1/categories`)).json()) as {
      data: { depth: number; product_count: number }[];
    };
    const roots = categories.data.filter((c) => c.depth === 0);
    return { categories: categories.data.length, products: roots.reduce((sum, c) => sum + c.product_count, 0) };
  }

  it('seeds the demo catalogue on the first start, and stops everything on SIGTERM', async () => {
    const { running, base } = await startServer();
    expect(running.output()).toMatch(/demo catalogue seeded/);
    // The admin key made on the first start works for writes.
    const key = /An admin API key was created[^\n]*\n\s*\n\s*(cat_\S+)/.exec(running.output())?.[1];
    expect(key).toMatch(/^cat_/);
    const movements = await fetch(`${base}/v1/products/1/stock-movements`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(movements.status).toBe(200);

    // A command beside the running API uses the API's embedded server and leaves it running.
    const cli = startNode(['--import', 'tsx', 'api/src/cli/keys.ts', 'list'], { DATA_DIR: dataDir });
    expect(await cli.exited, cli.output()).toBe(0);
    expect(cli.output()).toContain('admin (made on first start)');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const size = await catalogueSize(base);
    expect(size.categories).toBeGreaterThanOrEqual(50);
    // Most of the 300 seeded products are active.
    expect(size.products).toBeGreaterThan(250);
    expect(size.products).toBeLessThanOrEqual(300);

    const pid = await postmasterPid();
    expect(alive(pid)).toBe(true);
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it('reuses the data on a second start without seeding again', async () => {
    const { running, base } = await startServer({ SEED_PRODUCTS: '500' });
    expect(running.output()).not.toMatch(/seeding/);
    expect(running.output()).not.toMatch(/admin API key/);
    const size = await catalogueSize(base);
    expect(size.products).toBeLessThanOrEqual(300);
    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
  });

  it('finishes in-flight requests when told to stop', async () => {
    const { running, base } = await startServer();
    const inFlight = Array.from({ length: 20 }, () => fetch(`${base}/v1/products?limit=100`));
    await new Promise((resolve) => setTimeout(resolve, 5));
    running.child.kill('SIGTERM');
    const responses = await Promise.allSettled(inFlight);
    const answered = responses.filter((r) => r.status === 'fulfilled').map((r) => r.value.status);
    // Requests already accepted finish with 200; none fails with a server error.
    expect(answered.every((status) => status === 200 || status === 503)).toBe(true);
    expect(answered.filter((status) => status === 200).length).toBeGreaterThan(0);
    expect(await running.exited).toBe(0);
  });

  it('uses DATABASE_URL when set, starting no PostgreSQL of its own', async () => {
    const url = new URL(inject('adminUrl'));
    url.pathname = `/${inject('templateDatabase')}_server_${process.pid}`;
    const otherDir = await mkdtemp(join(tmpdir(), 'catalogue-external-'));
    const admin = new URL(inject('adminUrl'));
    const { default: pg } = await import('pg');
    const client = new pg.Client(admin.toString());
    await client.connect();
    await client.query(`CREATE DATABASE ${url.pathname.slice(1)}`);
    try {
      const { running, base } = await startServer({ DATABASE_URL: url.toString(), DATA_DIR: otherDir });
      expect(existsSync(join(otherDir, 'postgres'))).toBe(false);
      // Migrated, not seeded: an external database is never filled with demo data unasked.
      expect((await catalogueSize(base)).categories).toBe(0);
      running.child.kill('SIGTERM');
      expect(await running.exited).toBe(0);
    } finally {
      await client.query(`DROP DATABASE ${url.pathname.slice(1)} WITH (FORCE)`);
      await client.end();
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a bad setting, naming it', async () => {
    const running = startNode(['--import', 'tsx', 'api/src/server.ts'], { API_PORT: 'eighty', DATA_DIR: dataDir });
    started.push(running);
    expect(await running.exited).toBe(78);
    expect(running.output()).toContain('API_PORT="eighty"');
  });
});
