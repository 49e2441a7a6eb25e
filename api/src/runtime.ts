import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.ts';
import { createDatabase, migrateDatabase, type Database } from './db/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './dev/embedded-postgres.ts';

export const EMBEDDED_DATABASE = 'catalogue';

export interface Runtime {
  database: Database;
  /** Set when this process started its own PostgreSQL server. */
  embedded?: EmbeddedPostgres;
  /** Closes the pool, then stops the embedded server if there is one. */
  close(): Promise<void>;
}

type Log = Pick<FastifyBaseLogger, 'info' | 'warn' | 'debug'>;

/**
 * Connects to DATABASE_URL, or with none starts the embedded PostgreSQL under DATA_DIR, and
 * migrates it. The embedded server's demo catalogue is seeded by the caller (see server.ts).
 */
export async function openRuntime(config: Config, log: Log): Promise<Runtime> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, log: (line) => log.debug({ postgres: line }) });
    log.info({ dataDir: join(config.DATA_DIR, 'postgres'), port: embedded.port }, 'embedded PostgreSQL started');
    url = embedded.urlFor(EMBEDDED_DATABASE);
    await createDatabaseIfMissing(embedded, EMBEDDED_DATABASE);
  }
  const database = createDatabase(url, { poolSize: config.DATABASE_POOL_SIZE, readUrl: config.DATABASE_READ_URL });
  const close = async () => {
    await database.close();
    await embedded?.stop();
  };
  try {
    await migrateDatabase(database);
  } catch (error) {
    await close();
    throw error;
  }
  return { database, embedded, close };
}

export async function createDatabaseIfMissing(server: EmbeddedPostgres, name: string, template?: string) {
  const admin = createDatabase(server.url, { poolSize: 1 });
  try {
    const { rowCount } = await admin.pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;
      await admin.pool.query(`CREATE DATABASE ${quote(name)}${template ? ` TEMPLATE ${quote(template)}` : ''}`);
    }
  } finally {
    await admin.close();
  }
}
