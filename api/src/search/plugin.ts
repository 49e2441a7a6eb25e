import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { meiliPlugin } from './meili/plugin.ts';
import type { MeiliConfig } from './meili/setup.ts';
import { PgSearchEngine } from './pg/engine.ts';
import { SearchService } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Searches the catalogue, by Meilisearch when configured and able, else by PostgreSQL. */
    searchService: SearchService;
  }
}

export interface SearchPluginOptions {
  database: Database;
  config: MeiliConfig & Pick<Config, 'SEARCH_INDEXER' | 'MEILISEARCH_MAX_LAG_MS'>;
}

/**
 * How often the words typos are corrected against follow the catalogue: a word new since the last
 * refresh is found exactly, only not yet as a correction.
 */
const WORDS_REFRESH_MS = 10 * 60_000;

/**
 * The search engines and their lifecycles: PostgreSQL's (its words rebuilt now and then, and at
 * start when a catalogue has none yet) and, when MEILISEARCH_URL is set, Meilisearch's (its index
 * set up and its indexer run: meili/plugin.ts). Decorates the instance with the search service.
 */
const plugin: FastifyPluginAsync<SearchPluginOptions> = async (app, { database, config }) => {
  // Searches are public reads (the read replica, when there is one); the words are rebuilt on the
  // primary, a replica being read-only.
  const postgres = new PgSearchEngine(database.searchPool, database.pool);
  const warn = (error: unknown) => app.log.warn({ err: error }, 'search words refresh failed');
  const refresh = setInterval(() => postgres.refreshWords().catch(warn), WORDS_REFRESH_MS);
  refresh.unref();
  // A catalogue migrated to search (or loaded without the seed) has no words yet: they are built
  // at start, in the background, rather than at the first refresh.
  let first: Promise<unknown> | undefined;
  app.addHook('onReady', async () => {
    first = postgres.refreshWordsIfMissing().catch(warn);
  });
  app.addHook('onClose', async () => {
    clearInterval(refresh);
    await first;
  });

  if (config.MEILISEARCH_URL) await app.register(meiliPlugin, { database, config });
  app.decorate(
    'searchService',
    new SearchService({
      database: postgres,
      index: app.meili?.engine,
      maxLagMs: config.MEILISEARCH_MAX_LAG_MS,
      categories: () => app.catalogue.categories.tree(),
    }),
  );
};

export const searchPlugin = fp(plugin, { name: 'search', dependencies: ['catalogue'] });
