import type { FastifyRequest } from 'fastify';
import type { Database, Db } from '../db/database.ts';
import { idempotencyKey, runIdempotent, settle, type Answer, type Executor } from '../http/idempotency.ts';
import { HttpProblem, toProblem } from '../http/problem.ts';
import { DEFAULT_MAX_IN_FLIGHT, StockCoalescer } from './coalescer.ts';
import { factsOf, refusal, REFUSALS } from './refusals.ts';
import {
  StockRepository,
  type Actor,
  type AdjustResult,
  type Adjustment,
  type SetResult,
  type StockSetting,
} from './repository.ts';
import type { BatchAdjustmentBody, BatchResult, StockChange, StockLevel } from './schemas.ts';

type ItemResult = BatchResult['results'][number];

/** Who makes the changes of an authenticated request (the stock routes require a key). */
export function actorOf(request: FastifyRequest): Actor {
  const key = request.apiKey!;
  return { apiKeyId: key.id, apiKeyName: key.name, apiKeyPrefix: key.prefix, idempotencyKey: idempotencyKey(request) };
}

export interface StockServiceOptions extends Pick<Database, 'db' | 'pool'> {
  /** Group commit of single adjustments sent without an Idempotency-Key (coalescer.ts). */
  coalesce: boolean;
  /** Told when a shared statement failed and its adjustments run one by one. */
  onFallback?: (error: unknown, size: number) => void;
}

/** An applied adjustment answers 201 with the change; a refused one, the problem of its refusal. */
function created(item: Adjustment, result: AdjustResult) {
  if (result.outcome !== 'done') throw refusal(result, item.productId);
  return { status: 201, body: result.change };
}

/** A batch item's line in the results. */
function itemResult(index: number, item: Adjustment, result: AdjustResult): ItemResult {
  const product_id = item.productId;
  if (result.outcome === 'done') {
    return {
      index,
      product_id,
      status: 'applied',
      stock: result.change.stock,
      movement_id: result.change.movement!.id,
    };
  }
  const { stock } = factsOf(result, product_id);
  return { index, product_id, status: REFUSALS[result.outcome].item!.status, stock, movement_id: null };
}

/**
 * Every stock change goes through here. Whether a single adjustment may share a statement with
 * others (group commit) follows from its request alone: sent without an Idempotency-Key it is one
 * statement with nothing to store, which the coalescer may batch; sent with one, it runs in the
 * transaction that stores its answer.
 */
export class StockService {
  readonly #db: Db;
  readonly #repository: StockRepository;
  readonly #coalescer: StockCoalescer | undefined;

  constructor({ db, pool, coalesce, onFallback }: StockServiceOptions) {
    this.#db = db;
    this.#repository = new StockRepository({ db, pool });
    // Statements in flight at once stay below the pool's size: the other routes need connections too.
    this.#coalescer = coalesce
      ? new StockCoalescer({
          runMany: (items) => this.#repository.adjustMany(items),
          runOne: (item) => this.#repository.adjust(item),
          maxInFlight: Math.max(1, Math.min(DEFAULT_MAX_IN_FLIGHT, (pool.options.max ?? 10) - 1)),
          onFallback,
        })
      : undefined;
  }

  /** A single adjustment (`item.actor` carries the request's Idempotency-Key, if any). */
  async adjust(request: FastifyRequest, item: Adjustment): Promise<Answer<StockChange>> {
    const problem = (error: HttpProblem) => toProblem(error, request);
    if (item.actor.idempotencyKey === undefined) {
      const now = () => (this.#coalescer ? this.#coalescer.adjust(item) : this.#repository.adjust(item));
      return { ...(await settle(async () => created(item, await now()), problem)), replayed: false };
    }
    return runIdempotent(
      this.#db,
      request,
      item.actor.apiKeyId,
      async (tx) => created(item, await this.#repository.adjust(item, tx)),
      problem,
    );
  }

  /**
   * Many adjustments: each on its own (committed one by one, no lock held for the whole batch), or
   * all or nothing (`atomic`: one transaction, refused with 409 if any item cannot apply).
   */
  async adjustBatch(
    request: FastifyRequest,
    actor: Actor,
    { items, atomic = false }: BatchAdjustmentBody,
  ): Promise<Answer<BatchResult>> {
    const adjustments = items.map(({ product_id, delta, reason }) => ({ productId: product_id, delta, reason, actor }));
    return runIdempotent(
      this.#db,
      request,
      actor.apiKeyId,
      async (executor) => {
        const outcomes = await this.#applyAll(executor, adjustments);
        const results = outcomes.map((outcome, index) => itemResult(index, adjustments[index]!, outcome));
        const refused = results.filter((r) => r.status !== 'applied').length;
        // Thrown inside the work: its transaction or savepoint, and so every item, is rolled back.
        if (atomic && refused > 0) throw batchRefused(adjustments, outcomes);
        return { status: 200, body: { applied: results.length - refused, refused, results } };
      },
      (error) => toProblem(error, request),
      { transaction: atomic },
    );
  }

  /**
   * Applies the items in product-id order (the request order within one product), so that two
   * batches touching the same products lock them in the same order and never deadlock. Answers in
   * request order.
   */
  async #applyAll(on: Executor, items: Adjustment[]): Promise<AdjustResult[]> {
    const order = items
      .map((item, index) => ({ item, index }))
      .sort((a, b) => a.item.productId - b.item.productId || a.index - b.index);
    const outcomes: AdjustResult[] = new Array(items.length);
    for (const { item, index } of order) outcomes[index] = await this.#repository.adjust(item, on);
    return outcomes;
  }

  /** An absolute level, in a transaction that holds the product's row lock. */
  set(setting: StockSetting): Promise<SetResult> {
    return this.#db.transaction((tx) => this.#repository.set(tx, setting));
  }

  levels(ids: readonly number[], skus: readonly string[]): Promise<StockLevel[]> {
    return this.#repository.levels(ids, skus);
  }

  /** A product's ledger, newest first; refused (404) for a product that does not exist. */
  async movements(productId: number, limit: number, beforeId?: number) {
    if (!(await this.#repository.productExists(productId))) throw refusal({ outcome: 'not-found' }, productId);
    return this.#repository.movements(productId, limit, beforeId);
  }

  /** Resolves once every adjustment queued or in flight is answered. */
  async close(): Promise<void> {
    await this.#coalescer?.close();
  }
}

/** An atomic batch refused: each item that cannot apply, with its reason from the refusal table. */
function batchRefused(items: Adjustment[], outcomes: AdjustResult[]): HttpProblem {
  const errors = outcomes.flatMap((outcome, index) => {
    if (outcome.outcome === 'done') return [];
    const detail = REFUSALS[outcome.outcome].item!.detail(factsOf(outcome, items[index]!.productId));
    return [{ in: 'body' as const, name: `items.${index}`, detail }];
  });
  return new HttpProblem(
    409,
    'batch-refused',
    'Batch refused',
    `${errors.length} of ${items.length} items cannot apply; none was applied.`,
    errors,
  );
}
