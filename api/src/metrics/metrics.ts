import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type pg from 'pg';
import type { IndexerStats } from '../search/meili/indexer.ts';
import { RequestMetrics } from './requests.ts';

/**
 * The API's Prometheus metrics: the requests (requests.ts), then prom-client's, in a registry of
 * each app's own (tests build many apps in one process, and prom-client's global registry would
 * mix their counts, or refuse the second app's metrics by name), then the process's.
 *
 * Label values are bounded: a route's pattern (`/v1/products/:id`), never its URL; one value for
 * every URL no route matched; pool names, outcomes and kinds from fixed lists.
 */

/** A scrape gives up on the outbox query after this long: a scrape must answer with the database down. */
export const OUTBOX_QUERY_TIMEOUT_MS = 1_000;

export type StockChangeKind = 'set' | 'adjustment' | 'batch';
/** `refused`: asked for, and not applied (insufficient stock, a stale precondition, no such product). */
export type StockChangeOutcome = 'applied' | 'refused';
const STOCK_KINDS: StockChangeKind[] = ['set', 'adjustment', 'batch'];
const STOCK_OUTCOMES: StockChangeOutcome[] = ['applied', 'refused'];

/**
 * `completed`: the import ran to its end (some rows may have been rejected); `refused`: an atomic
 * import rolled back for a rejected row; `failed`: it stopped midway (body cut, too large, an error).
 */
export type ImportOutcome = 'completed' | 'refused' | 'failed';
export interface ImportRowCounts {
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
}
const IMPORT_OUTCOMES: ImportOutcome[] = ['completed', 'refused', 'failed'];
const ROW_OUTCOMES: (keyof ImportRowCounts)[] = ['created', 'updated', 'unchanged', 'rejected'];

/** What the routes record. With metrics off, every method does nothing. */
export interface CatalogueCounters {
  /** Stock changes asked for (a batch counts its items); replays of an idempotent request are not. */
  stockChanged(kind: StockChangeKind, outcome: StockChangeOutcome, count?: number): void;
  /** An import that ran (replays are not counted), and its rows. */
  imported(outcome: ImportOutcome, rows?: Partial<ImportRowCounts>): void;
}

export const NO_COUNTERS: CatalogueCounters = {
  stockChanged: () => undefined,
  imported: () => undefined,
};

export interface MetricsLog {
  warn(object: object, message: string): void;
}

export interface CatalogueMetricsOptions {
  /** The database's pools by name (Database.pools), read at each scrape. */
  pools: Record<string, pg.Pool>;
  /** Where the outbox is (the primary). */
  pool: pg.Pool;
  log: MetricsLog;
}

type StockChildren = Record<StockChangeKind, Record<StockChangeOutcome, Counter.Internal>>;
type ImportChildren = Record<ImportOutcome, Counter.Internal>;
type RowChildren = Record<keyof ImportRowCounts, Counter.Internal>;

/** The process's own metrics (memory, CPU, event loop, GC), made once per process and shared by its apps. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class CatalogueMetrics implements CatalogueCounters {
  readonly registry = new Registry();
  readonly #process = processMetrics();
  readonly requests = new RequestMetrics();
  readonly #stock: StockChildren;
  readonly #imports: ImportChildren;
  readonly #importRows: RowChildren;
  readonly #options: CatalogueMetricsOptions;
  #outboxScrape: Promise<{ rows: number; lagSeconds: number } | undefined> | undefined;

  constructor(options: CatalogueMetricsOptions) {
    this.#options = options;
    const registers = [this.registry];

    const stock = new Counter({
      name: 'catalogue_stock_changes_total',
      help: 'Stock changes asked for, by kind (set, adjustment, batch: one per item) and outcome (applied, refused).',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.#stock = Object.fromEntries(
      STOCK_KINDS.map((kind) => [
        kind,
        Object.fromEntries(STOCK_OUTCOMES.map((outcome) => [outcome, stock.labels(kind, outcome)])),
      ]),
    ) as StockChildren;

    const imports = new Counter({
      name: 'catalogue_imports_total',
      help: 'Product imports run, by outcome (completed, refused: atomic and rolled back, failed: stopped midway).',
      labelNames: ['outcome'],
      registers,
    });
    this.#imports = Object.fromEntries(IMPORT_OUTCOMES.map((o) => [o, imports.labels(o)])) as ImportChildren;
    const importRows = new Counter({
      name: 'catalogue_import_rows_total',
      help: 'Rows of product imports, by outcome (created, updated, unchanged, rejected).',
      labelNames: ['outcome'],
      registers,
    });
    this.#importRows = Object.fromEntries(ROW_OUTCOMES.map((o) => [o, importRows.labels(o)])) as RowChildren;
    // Every series at zero from the start, so that rate() sees its first increase.
    const children = [
      ...Object.values(this.#stock).flatMap((outcomes) => Object.values(outcomes)),
      ...Object.values(this.#imports),
      ...Object.values(this.#importRows),
    ];
    for (const child of children) child.inc(0);

    const { pools } = options;
    new Gauge({
      name: 'catalogue_db_pool_connections',
      help: 'PostgreSQL connections of each pool: open (total), idle, and requests waiting for one (waiting).',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        for (const [name, pool] of Object.entries(pools)) {
          this.labels(name, 'total').set(pool.totalCount);
          this.labels(name, 'idle').set(pool.idleCount);
          this.labels(name, 'waiting').set(pool.waitingCount);
        }
      },
    });

    // Both gauges come from one query, run once per scrape whichever asks first. When it fails
    // (database down) they are left out of the scrape rather than repeat an old value.
    const outbox = () => (this.#outboxScrape ??= this.#scrapeOutbox().finally(() => (this.#outboxScrape = undefined)));
    new Gauge({
      name: 'catalogue_search_outbox_rows',
      help: 'Catalogue changes recorded in the search outbox and not yet in the search index.',
      registers,
      async collect() {
        const found = await outbox();
        if (found) this.set(found.rows);
        else this.remove();
      },
    });
    new Gauge({
      name: 'catalogue_search_index_lag_seconds',
      help: 'Age of the oldest change waiting in the search outbox (0 when it is empty).',
      registers,
      async collect() {
        const found = await outbox();
        if (found) this.set(found.lagSeconds);
        else this.remove();
      },
    });
  }

  stockChanged(kind: StockChangeKind, outcome: StockChangeOutcome, count = 1): void {
    if (count > 0) this.#stock[kind][outcome].inc(count);
  }

  imported(outcome: ImportOutcome, rows: Partial<ImportRowCounts> = {}): void {
    this.#imports[outcome].inc();
    for (const name of ROW_OUTCOMES) {
      const count = rows[name] ?? 0;
      if (count > 0) this.#importRows[name].inc(count);
    }
  }

  /**
   * The counters of an indexer running in this process (Indexer.stats), read at each scrape.
   * Registered only then: without one, the indexer runs elsewhere (`npm run indexer`, which serves
   * its own with METRICS_PORT) or not at all.
   */
  watchIndexer(stats: IndexerStats): void {
    const registers = [this.registry];
    new Counter({
      name: 'catalogue_search_indexer_batches_total',
      help: "Outbox batches this process's search indexer wrote to the index.",
      registers,
      collect() {
        this.reset();
        this.inc(stats.batches);
      },
    });
    new Counter({
      name: 'catalogue_search_indexer_documents_total',
      help: "Documents this process's search indexer wrote, by operation (upsert, delete).",
      labelNames: ['operation'],
      registers,
      collect() {
        this.reset();
        this.labels('upsert').inc(stats.upserted);
        this.labels('delete').inc(stats.deleted);
      },
    });
    new Counter({
      name: 'catalogue_search_indexer_failures_total',
      help: "Batches of this process's search indexer that failed (and were retried).",
      registers,
      collect() {
        this.reset();
        this.inc(stats.failures);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: the requests, this app's other metrics, then the process's. */
  async scrape(): Promise<string> {
    const [own, shared] = await Promise.all([this.registry.metrics(), this.#process.metrics()]);
    return `${this.requests.exposition()}\n${own}\n${shared}`;
  }

  async #scrapeOutbox(): Promise<{ rows: number; lagSeconds: number } | undefined> {
    const query = this.#options.pool.query<{ rows: string; lag: number }>(
      `SELECT (SELECT count(*) FROM search_outbox) AS rows,
              coalesce((SELECT extract(epoch FROM clock_timestamp() - enqueued_at)
                          FROM search_outbox ORDER BY id LIMIT 1), 0)::float8 AS lag`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${OUTBOX_QUERY_TIMEOUT_MS} ms`)),
        OUTBOX_QUERY_TIMEOUT_MS,
      );
    });
    try {
      const { rows } = await Promise.race([query, timeout]);
      return { rows: Number(rows[0]!.rows), lagSeconds: Math.max(0, rows[0]!.lag) };
    } catch (error) {
      this.#options.log.warn({ err: error }, 'metrics: could not read the search outbox; its gauges are left out');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
