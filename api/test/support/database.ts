import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import { buildApp, type AppOptions } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createDatabase, type Database } from '../../src/db/database.ts';

export const TEST_CURSOR_SECRET = 'test-cursor-secret-0123456789';

/**
 * What every test app runs with, as the environment would say it: production's defaults but no
 * logs, no response cache (most tests change data between two identical reads) and no rate limits
 * (the guards' tests turn them on).
 */
const TEST_ENV = {
  CURSOR_SECRET: TEST_CURSOR_SECRET,
  LOG_LEVEL: 'silent',
  RESPONSE_CACHE_TTL_MS: '0',
  RATE_LIMIT_READS_PER_MINUTE: '0',
  RATE_LIMIT_WRITES_PER_MINUTE: '0',
};

/**
 * A configuration through the production loader (so checked like production's), with the tests'
 * settings and then `overrides` applied, each written as the environment would write it.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const env = Object.entries(overrides)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [name, String(value)]);
  return loadConfig({ ...TEST_ENV, ...Object.fromEntries(env) });
}

// What a test file opened, closed after its tests, last opened first. Registered here, when the
// file imports this module, because a hook registered inside beforeAll never runs.
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export type TestDatabase = Database & { url: string; name: string };

async function scratchDatabase(template?: string): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = createDatabase(adminUrl, { poolSize: 1 });
  await admin.pool.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = createDatabase(url.toString(), { poolSize: 5 });
  cleanups.push(async () => {
    await database.close();
    await admin.pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.close();
  });
  return Object.assign(database, { url: url.toString(), name });
}

/**
 * A fresh migrated database for this test file (copied from the run's template), dropped after
 * the file's tests: files never see each other's data and can run in parallel.
 */
export const testDatabase = () => scratchDatabase(inject('templateDatabase'));

/** A database with nothing in it, not even the schema. */
export const emptyDatabase = () => scratchDatabase();

/**
 * The app as production builds it, on this file's database, with testConfig's settings and
 * `config`'s, logging silenced (unless a logger is given).
 */
export async function testApp(
  database: Database,
  { config = {}, logger = false }: { config?: Partial<Config>; logger?: AppOptions['logger'] } = {},
) {
  const app = await buildApp({ config: testConfig(config), database, logger });
  cleanups.push(() => app.close());
  await app.ready();
  return app;
}
