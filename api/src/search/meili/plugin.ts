import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../../db/database.ts';
import type { Config } from '../../config.ts';
import { MeiliSearchEngine } from './engine.ts';
import { Indexer } from './indexer.ts';
import { meiliClient, searchSync, type MeiliConfig } from './setup.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Set when MEILISEARCH_URL is: the engine the search service asks first, and the indexer. */
    meili?: { engine: MeiliSearchEngine; indexer?: Indexer };
  }
}

export interface MeiliPluginOptions {
  database: Database;
  config: MeiliConfig & Pick<Config, 'SEARCH_INDEXER'>;
}

const RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * Meilisearch, when configured: at start, in the background (the API serves meanwhile, searching
 * PostgreSQL), the index is created with the settings declared in code, the outbox switched on,
 * and the index built from the database if it never was; Meilisearch down at start is retried
 * with backoff. The indexer runs in this process unless SEARCH_INDEXER=off (`npm run indexer`).
 */
const plugin: FastifyPluginAsync<MeiliPluginOptions> = async (app, { database, config }) => {
  const log = app.log.child({ component: 'search-sync' });
  const sync = searchSync(database.pool, config, log);
  // The hits' products are read like any public read (the replica, when there is one); the
  // outbox and the index's state, on the primary.
  const engine = new MeiliSearchEngine(database.readPool, meiliClient(config, config.MEILISEARCH_TIMEOUT_MS), sync);
  const indexer =
    config.SEARCH_INDEXER === 'in-process' ? new Indexer(sync, { connectionString: database.url, log }) : undefined;
  app.decorate('meili', { engine, indexer });

  const abort = new AbortController();
  let starting: Promise<void> | undefined;
  app.addHook('onReady', async () => {
    starting = (async () => {
      for (let attempt = 0; !abort.signal.aborted; attempt += 1) {
        try {
          await sync.prepareIndex(sync.indexUid);
          await sync.enable();
          indexer?.start();
          if (!(await sync.isReady())) {
            log.info({ index: sync.indexUid }, 'building the search index from the database');
            await sync.reindex({ signal: abort.signal });
          }
          return;
        } catch (error) {
          if (abort.signal.aborted) return;
          const delay = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt);
          log.warn({ err: error, retryInMs: delay }, 'Meilisearch set-up failed: searching PostgreSQL meanwhile');
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
          });
        }
      }
    })();
  });
  app.addHook('onClose', async () => {
    abort.abort();
    sync.close();
    await starting;
    await indexer?.stop();
  });
};

export const meiliPlugin = fp(plugin, { name: 'meilisearch' });
