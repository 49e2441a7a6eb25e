import pg from 'pg';
import type { SearchSync, SyncLog } from './sync.ts';

export interface IndexerOptions {
  /** Where to LISTEN for the outbox's notifications (a connection of its own). */
  connectionString: string;
  batchSize?: number;
  /** Looks at the outbox this often even without a notification (one lost with a dropped connection). */
  pollMs?: number;
  /** Backoff after a failure: doubles from `retryMs` up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  log: SyncLog;
}

/** What the indexer has done since it started (the metrics endpoint will expose them). */
export interface IndexerStats {
  batches: number;
  upserted: number;
  deleted: number;
  /** Batches that failed (a task failed or timed out, Meilisearch or PostgreSQL unreachable). */
  failures: number;
  /** Consecutive failures now (0 when the last batch went through). */
  failing: number;
  lastError: string | null;
}

/**
 * Drains the outbox into Meilisearch (SearchSync.drainBatch), batch after batch while there is
 * work, then sleeps until PostgreSQL notifies a change (so an idle index is fresh within a
 * fraction of a second) or the poll interval passes. A failed batch is retried with exponential
 * backoff, forever: its outbox rows stay until Meilisearch has them.
 */
export class Indexer {
  readonly stats: IndexerStats = { batches: 0, upserted: 0, deleted: 0, failures: 0, failing: 0, lastError: null };
  readonly #sync: SearchSync;
  readonly #options: Required<Omit<IndexerOptions, 'log'>> & { log: SyncLog };
  #listener: pg.Client | null = null;
  #running: Promise<void> | null = null;
  #stopping = false;
  #wake: (() => void) | null = null;

  constructor(sync: SearchSync, options: IndexerOptions) {
    this.#sync = sync;
    this.#options = { batchSize: 1_000, pollMs: 5_000, retryMs: 250, maxRetryMs: 30_000, ...options };
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Finishes the batch in hand (or gives it back: its transaction rolls back), then stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#running;
    await this.#listener?.end().catch(() => undefined);
    this.#listener = null;
  }

  /** Drains until the outbox is empty (or another indexer holds the lease); for tests and commands. */
  async drain(): Promise<void> {
    for (;;) {
      const done = await this.#batch();
      if (!done || done.rows === 0) return;
    }
  }

  async #batch() {
    const done = await this.#sync.drainBatch(this.#options.batchSize);
    if (done && done.rows > 0) {
      this.stats.batches += 1;
      this.stats.upserted += done.upserted;
      this.stats.deleted += done.deleted;
    }
    return done;
  }

  async #run(): Promise<void> {
    const { log } = this.#options;
    while (!this.#stopping) {
      try {
        await this.#listen();
        const done = await this.#batch();
        if (this.stats.failing > 0) log.info({ after: this.stats.failing }, 'search indexer recovered');
        this.stats.failing = 0;
        if (done && done.rows > 0) continue;
        await this.#sleep(this.#options.pollMs, true);
      } catch (error) {
        this.stats.failures += 1;
        this.stats.failing += 1;
        this.stats.lastError = error instanceof Error ? error.message : String(error);
        const delay = Math.min(this.#options.maxRetryMs, this.#options.retryMs * 2 ** (this.stats.failing - 1));
        log.warn(
          { err: error, failing: this.stats.failing, retryInMs: delay },
          'search indexer batch failed: its changes stay in the outbox, retrying',
        );
        await this.#dropListener();
        await this.#sleep(delay, false);
      }
    }
  }

  async #listen(): Promise<void> {
    if (this.#listener) return;
    const listener = new pg.Client({
      connectionString: this.#options.connectionString,
      application_name: 'catalogue-indexer',
      connectionTimeoutMillis: 5_000,
    });
    // A dropped connection is noticed at the next batch (which fails and reconnects after backoff).
    listener.on('error', () => {
      if (this.#listener === listener) this.#listener = null;
    });
    listener.on('notification', () => this.#wake?.());
    await listener.connect();
    await listener.query('LISTEN search_outbox');
    this.#listener = listener;
  }

  async #dropListener(): Promise<void> {
    const listener = this.#listener;
    this.#listener = null;
    await listener?.end().catch(() => undefined);
  }

  /** Waits `ms`, or less: a notification (when `wakeOnChange`) or stop() wakes it. */
  #sleep(ms: number, wakeOnChange: boolean): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        if (wakeOnChange || this.#stopping) done();
      };
    });
  }
}
