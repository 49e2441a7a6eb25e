import pg from 'pg';
import { startNode } from './process.ts';

/**
 * A real PostgreSQL server for a test that starts the API's processes itself: the embedded server
 * as `npm run postgres` runs it (api/src/cli/postgres.ts), in a process of its own, so that the
 * test imports none of the API's code.
 */
export interface Postgres {
  /** The URL of the database asked for, created empty (not migrated). */
  readonly url: string;
  /** A URL for another database on the same server. */
  urlFor(database: string): string;
  /** Stops the server (SIGTERM to its command) and waits for it to exit. */
  stop(): Promise<void>;
}

export async function startPostgres(dataDir: string, database = 'catalogue', timeoutMs = 60_000): Promise<Postgres> {
  const running = startNode(['--import', 'tsx', 'api/src/cli/postgres.ts', '--database', database], {
    DATA_DIR: dataDir,
  });
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!(url = /^postgres:\/\/\S+$/m.exec(running.output())?.[0])) {
    if (running.child.exitCode !== null || Date.now() > deadline) {
      running.child.kill('SIGTERM');
      throw new Error(`the embedded PostgreSQL did not start:\n${running.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const base = url;
  return {
    url: base,
    urlFor: (name) => Object.assign(new URL(base), { pathname: `/${encodeURIComponent(name)}` }).toString(),
    stop: async () => {
      running.child.kill('SIGTERM');
      await running.exited;
    },
  };
}

/** The rows of one statement, on a connection of its own. */
export async function query<Row extends pg.QueryResultRow>(url: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}
