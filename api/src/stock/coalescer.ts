import pg from 'pg';
import { isDatabaseUnavailable } from '../http/problem.ts';
import type { AdjustResult, Adjustment } from './repository.ts';

/**
 * Group commit for single stock adjustments (POST /v1/products/{id}/stock-adjustments without an
 * Idempotency-Key). Each of those is one statement and one commit; under load, most of the time
 * of such a request goes to the round trip and the commit rather than to the change itself. Here,
 * adjustments that arrive while earlier ones are in flight queue up, and when a slot frees, up to
 * `maxBatch` of them go to PostgreSQL in one statement (StockRepository.adjustMany), each with its
 * own answer. With a slot free an adjustment is sent at once, alone, as the single statement: an
 * idle server answers as fast as without the coalescer.
 *
 *  - A batch holds each product once (one UPDATE changes a row once); a second adjustment of the
 *    same product stays queued, in its place, for a later batch. Batches leave in arrival order,
 *    so a product's adjustments leave in the order they arrived. (With two statements in flight,
 *    which one reaches a row lock first is up to the two connections, as it is for concurrent
 *    single statements.) Each batch locks its rows in id order, like the batch endpoint.
 *  - A batch whose statement fails (a deadlock, a serialisation failure, any error PostgreSQL
 *    answers) changed nothing: each of its adjustments is then run alone, in order, with the
 *    single statement, so each gets its own true answer and no neighbour's failure. Not when the
 *    database is unreachable or the connection was lost: the batch may have committed before the
 *    answer was lost, and must not be applied twice. Each adjustment gets that error, as it would
 *    have alone (answered 503 by the error handler).
 *  - `close()` waits until every adjustment queued or in flight is answered.
 */
export interface CoalescerOptions {
  /** Adjustments of distinct products in one statement; answers in the same order. */
  runMany: (items: Adjustment[]) => Promise<AdjustResult[]>;
  /** One adjustment alone (the single statement). */
  runOne: (item: Adjustment) => Promise<AdjustResult>;
  /** Most adjustments in one statement. */
  maxBatch?: number;
  /** Most statements in flight at once (each holds a pool connection): keep it below the pool's size. */
  maxInFlight?: number;
  /**
   * True when a batch's failure proves that nothing of it was applied, so that its adjustments can
   * be run again one by one. By default: an error PostgreSQL answered to the statement (its
   * transaction rolled back), not one saying that the database is unreachable or the connection
   * lost (the commit may have happened), nor any error raised after the answer came.
   */
  refusedWhole?: (error: unknown) => boolean;
  /** Told when a batch failed and its adjustments are run one by one. */
  onFallback?: (error: unknown, size: number) => void;
}

/** PostgreSQL's ErrorResponse to the statement, the connection still up: rolled back, nothing applied. */
export const refusedByServer = (error: unknown) => error instanceof pg.DatabaseError && !isDatabaseUnavailable(error);

interface Pending {
  item: Adjustment;
  resolve: (result: AdjustResult) => void;
  reject: (error: unknown) => void;
}

export const DEFAULT_MAX_BATCH = 100;
export const DEFAULT_MAX_IN_FLIGHT = 2;
/** How far down the queue a batch looks for products it does not hold yet (bounds the work per batch). */
const SCAN_LIMIT = 1_000;

export class StockCoalescer {
  readonly #runMany: CoalescerOptions['runMany'];
  readonly #runOne: CoalescerOptions['runOne'];
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #refusedWhole: NonNullable<CoalescerOptions['refusedWhole']>;
  readonly #onFallback: NonNullable<CoalescerOptions['onFallback']>;
  #queue: Pending[] = [];
  #inFlight = 0;
  #idle: (() => void)[] = [];
  /** Statements sent, adjustments sent in shared ones, fallbacks, the largest statement (for the tests). */
  readonly stats = { statements: 0, batched: 0, fallbacks: 0, largest: 0 };

  constructor({
    runMany,
    runOne,
    maxBatch = DEFAULT_MAX_BATCH,
    maxInFlight = DEFAULT_MAX_IN_FLIGHT,
    refusedWhole = refusedByServer,
    onFallback,
  }: CoalescerOptions) {
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1))
      throw new Error(`maxBatch must be a positive integer: ${maxBatch}`);
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) {
      throw new Error(`maxInFlight must be a positive integer: ${maxInFlight}`);
    }
    this.#runMany = runMany;
    this.#runOne = runOne;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
    this.#refusedWhole = refusedWhole;
    this.#onFallback = onFallback ?? (() => undefined);
  }

  /** Adjustments waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  adjust(item: Adjustment): Promise<AdjustResult> {
    return new Promise<AdjustResult>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#pump();
    });
  }

  /** Resolves once nothing is queued or in flight (the app's onClose: no request left hanging). */
  close(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump() {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#take();
      this.#inFlight += 1;
      void this.#send(batch).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
        if (this.#inFlight === 0 && this.#queue.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  /** The oldest adjustments, at most one per product; those passed over keep their places. */
  #take(): Pending[] {
    const batch: Pending[] = [];
    const products = new Set<number>();
    const passed: Pending[] = [];
    let scanned = 0;
    const limit = Math.min(this.#queue.length, SCAN_LIMIT);
    for (; scanned < limit && batch.length < this.#maxBatch; scanned++) {
      const pending = this.#queue[scanned]!;
      if (products.has(pending.item.productId)) passed.push(pending);
      else {
        products.add(pending.item.productId);
        batch.push(pending);
      }
    }
    this.#queue = scanned === this.#queue.length ? passed : passed.concat(this.#queue.slice(scanned));
    return batch;
  }

  /** Never rejects: every adjustment of the batch is answered, whatever fails. */
  async #send(batch: Pending[]): Promise<void> {
    try {
      await this.#sendBatch(batch);
    } catch (error) {
      // Only an answer not given yet takes this (a promise settles once).
      for (const pending of batch) pending.reject(error);
    }
  }

  async #sendBatch(batch: Pending[]): Promise<void> {
    this.stats.statements += 1;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    if (batch.length === 1) return this.#alone(batch[0]!);
    this.stats.batched += batch.length;
    let results: AdjustResult[];
    try {
      results = await this.#runMany(batch.map((pending) => pending.item));
    } catch (error) {
      if (!this.#refusedWhole(error)) {
        // Applied or not, nobody can tell (the connection was lost): each gets the error it would
        // have got alone, a 503 when the database is unavailable.
        for (const pending of batch) pending.reject(error);
        return;
      }
      // PostgreSQL refused the statement, so nothing of it was applied: each on its own, in order.
      this.stats.fallbacks += 1;
      this.#onFallback(error, batch.length);
      for (const pending of batch) await this.#alone(pending);
      return;
    }
    batch.forEach((pending, index) => pending.resolve(results[index]!));
  }

  async #alone(pending: Pending): Promise<void> {
    try {
      pending.resolve(await this.#runOne(pending.item));
    } catch (error) {
      pending.reject(error);
    }
  }
}
