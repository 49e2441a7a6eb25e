/**
 * `npm run migrate`: applies the pending migrations to DATABASE_URL, or with none to the embedded
 * PostgreSQL under DATA_DIR (started for the purpose and stopped after). The API also migrates at
 * start-up; this is for deploying the schema before the new code serves.
 */
import { ConfigError, loadConfig } from '../config.ts';
import { openRuntime } from '../runtime.ts';

try {
  const config = loadConfig();
  const runtime = await openRuntime(config, { info: () => undefined, warn: console.error, debug: () => undefined });
  await runtime.close();
  console.log(`migrated ${config.DATABASE_URL ? 'DATABASE_URL' : `the embedded database in ${config.DATA_DIR}`}`);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
