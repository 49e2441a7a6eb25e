import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createDatabase, type Database } from '../../src/db/database.ts';

export const TEST_CURSOR_SECRET = 'test-cursor-secret-0123456789';

/**
 * A fresh migrated database for this test file (copied from the run's template), dropped after
 * the file's tests: files never see each other's data and can run in parallel.
 */
export async function testDatabase(): Promise<Database & { url: string }> {
  const adminUrl = inject('adminUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = createDatabase(adminUrl, { poolSize: 1 });
  await admin.pool.query(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = createDatabase(url.toString(), { poolSize: 5 });
  afterAll(async () => {
    await database.close();
    await admin.pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.close();
  });
  return Object.assign(database, { url: url.toString() });
}

/**
 * The app as production builds it, on this file's database, logging silenced. The response cache
 * is off unless asked for: most tests change data between two identical reads.
 */
export async function testApp(database: Database, { responseCacheTtlMs = 0 } = {}) {
  const app = await buildApp({
    config: { CURSOR_SECRET: TEST_CURSOR_SECRET, LOG_LEVEL: 'silent', RESPONSE_CACHE_TTL_MS: responseCacheTtlMs },
    database,
    logger: false,
  });
  afterAll(() => app.close());
  await app.ready();
  return app;
}
