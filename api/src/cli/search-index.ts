/**
 * The search index's commands, against MEILISEARCH_URL and the database at DATABASE_URL (or the
 * embedded one under DATA_DIR):
 *
 *   npm run -s indexer      drains the outbox into Meilisearch until SIGTERM (the API's in-process
 *                           indexer does the same unless SEARCH_INDEXER=off); with METRICS_PORT and
 *                           METRICS_TOKEN, serves its metrics at GET /metrics on API_HOST:METRICS_PORT
 *   npm run -s reindex      builds a fresh index from the database and swaps it in
 *   npm run -s reconcile    compares the index with the database and repairs what differs
 */
import { ConfigError, loadConfig } from '../config.ts';
import { CatalogueMetrics } from '../metrics/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../metrics/server.ts';
import { openRuntime } from '../runtime.ts';
import { Indexer } from '../search/meili/indexer.ts';
import { searchSync } from '../search/meili/setup.ts';

const COMMANDS = ['indexer', 'reindex', 'reconcile'];

const log = {
  info: (object: object, message: string) => console.error(message, JSON.stringify(object)),
  warn: (object: object & { err?: unknown }, message: string) =>
    console.error(
      message,
      object.err instanceof Error ? object.err.message : '',
      JSON.stringify({ ...object, err: undefined }),
    ),
};

async function main(): Promise<number> {
  const command = process.argv[2];
  if (!command || !COMMANDS.includes(command) || process.argv.length > 3) {
    console.error(`usage: npm run -s ${COMMANDS.join(' | npm run -s ')}`);
    return 64;
  }
  const config = loadConfig();
  if (!config.MEILISEARCH_URL) {
    console.error('MEILISEARCH_URL is not set: with no Meilisearch, search runs in PostgreSQL and needs no index.');
    return 64;
  }
  const runtime = await openRuntime(config, { info: () => undefined, warn: console.error, debug: () => undefined });
  const sync = searchSync(runtime.database.pool, config, log);
  try {
    if (command === 'indexer') {
      await sync.prepareIndex(sync.indexUid);
      await sync.enable();
      const indexer = new Indexer(sync, { connectionString: runtime.database.url, log });
      // Its counters (batches, documents, failures) and the outbox's gauges, as the API exposes
      // them for an in-process indexer; closed without a token, as the API's are.
      let metricsServer: MetricsServer | undefined;
      if (config.METRICS_PORT !== undefined && config.METRICS_TOKEN) {
        const metrics = new CatalogueMetrics({ pools: runtime.database.pools, pool: runtime.database.pool, log });
        metrics.watchIndexer(indexer.stats);
        metricsServer = await startMetricsServer(metrics, {
          token: config.METRICS_TOKEN,
          host: config.API_HOST,
          port: config.METRICS_PORT,
        });
        console.error(`metrics at http://${config.API_HOST}:${metricsServer.port}/metrics`);
      } else if (config.METRICS_PORT !== undefined) {
        console.error('METRICS_PORT is set but METRICS_TOKEN is not: no metrics are served');
      }
      indexer.start();
      console.error(`indexing into ${sync.indexUid} until SIGTERM`);
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
      });
      sync.close();
      await indexer.stop();
      await metricsServer?.close();
    } else if (command === 'reindex') {
      const started = performance.now();
      const { indexed } = await sync.reindex({
        progress: (n) => process.stderr.isTTY && process.stderr.write(`\r  ${n.toLocaleString('en')} products indexed`),
      });
      const seconds = (performance.now() - started) / 1000;
      console.error(
        `\n${indexed.toLocaleString('en')} products indexed into a fresh index, swapped in, in ${seconds.toFixed(1)} s`,
      );
    } else {
      const drift = await sync.reconcile();
      // The products found different are in the outbox now: drain it, unless an indexer is at it.
      await new Indexer(sync, { connectionString: runtime.database.url, log }).drain();
      console.log(JSON.stringify(drift));
    }
    return 0;
  } finally {
    await runtime.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
