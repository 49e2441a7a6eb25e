/**
 * `npm run -s postgres -- [--database NAME]`: the embedded PostgreSQL under DATA_DIR alone, without
 * the API, until SIGTERM or Ctrl-C: a real server for tools and tests that run the other commands
 * with a DATABASE_URL of their own. Creates the database (by default the API's, `catalogue`) if it
 * is missing, without migrating it, and prints its URL on stdout once the server accepts
 * connections. DATABASE_URL is not read: this command is the embedded server.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { startEmbeddedPostgres } from '../dev/embedded-postgres.ts';
import { createDatabaseIfMissing, EMBEDDED_DATABASE } from '../runtime.ts';

// Listening before the server starts: a signal during its start still stops it.
const stopped = new Promise<void>((resolve) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
});

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { database: { type: 'string', default: EMBEDDED_DATABASE } } });
  const { DATA_DIR } = loadConfig();
  const server = await startEmbeddedPostgres({ dataDir: DATA_DIR, log: () => undefined });
  try {
    await createDatabaseIfMissing(server, values.database);
    console.log(server.urlFor(values.database));
    await stopped;
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exitCode = 1;
});
