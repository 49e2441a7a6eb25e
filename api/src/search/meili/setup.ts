import { Meilisearch } from 'meilisearch';
import type pg from 'pg';
import type { Config } from '../../config.ts';
import { SearchSync, type SyncLog } from './sync.ts';

export type MeiliConfig = Pick<
  Config,
  'MEILISEARCH_URL' | 'MEILISEARCH_KEY' | 'MEILISEARCH_INDEX' | 'MEILISEARCH_TIMEOUT_MS' | 'MEILISEARCH_TASK_TIMEOUT_MS'
>;

/** The Meilisearch client (one per use: searches give up sooner than the indexer's uploads). */
export function meiliClient(config: MeiliConfig, timeoutMs: number): Meilisearch {
  if (!config.MEILISEARCH_URL) throw new Error('MEILISEARCH_URL is not set');
  return new Meilisearch({
    host: config.MEILISEARCH_URL,
    apiKey: config.MEILISEARCH_KEY,
    timeout: timeoutMs,
    clientAgents: ['catalogue-api'],
  });
}

/** The sync between the catalogue and its index, as configured. */
export function searchSync(pool: pg.Pool, config: MeiliConfig, log: SyncLog): SearchSync {
  return new SearchSync(pool, meiliClient(config, config.MEILISEARCH_TASK_TIMEOUT_MS), {
    indexUid: config.MEILISEARCH_INDEX,
    taskTimeoutMs: config.MEILISEARCH_TASK_TIMEOUT_MS,
    log,
  });
}
