import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createDatabase, migrateDatabase } from '../../src/db/database.ts';
import { startEmbeddedPostgres } from '../../src/dev/embedded-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A maintenance-database URL of the test server: test files create their databases through it. */
    adminUrl: string;
    /** A migrated, empty database that each test file's database is copied from. */
    templateDatabase: string;
  }
}

/**
 * Starts one real PostgreSQL for the whole run (the embedded one, unless DATABASE_URL names a
 * server to use) and migrates a template database once.
 */
export default async function setup(project: TestProject) {
  const template = `catalogue_template_${process.pid}`;
  let adminUrl = process.env.DATABASE_URL;
  let stopServer = async () => undefined as void;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'catalogue-test-'));
    const server = await startEmbeddedPostgres({ dataDir });
    adminUrl = server.url;
    stopServer = server.stop;
  }
  const admin = createDatabase(adminUrl, { poolSize: 1 });
  await admin.pool.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.pool.query(`CREATE DATABASE ${template}`);
  const url = new URL(adminUrl);
  url.pathname = `/${template}`;
  const templateDb = createDatabase(url.toString(), { poolSize: 1 });
  await migrateDatabase(templateDb);
  await templateDb.close();

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', template);

  return async () => {
    await admin.pool.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
    await admin.close();
    await stopServer();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
