import { sql, type SQL } from 'drizzle-orm';
import type pg from 'pg';
import type { Database, Db } from '../db/database.ts';
import type { Executor, Tx } from '../http/idempotency.ts';
import { MAX_STOCK, type StockChange, type StockLevel, type StockMovement } from './schemas.ts';

/** Who makes a change: the API key, and the Idempotency-Key it was sent with (in the ledger). */
export interface Actor {
  apiKeyId: number;
  /** Shown in the answer's movement; the ledger keeps only the id. */
  apiKeyName?: string;
  apiKeyPrefix?: string;
  idempotencyKey?: string;
}

type MovementRow = {
  id: string;
  delta: number;
  reason: string;
  stock_after: number;
  api_key_id: number | null;
  api_key_name: string | null;
  api_key_prefix: string | null;
  idempotency_key: string | null;
  created_at: Date | string;
};

/** One adjustment: a product, a delta, why, and who. */
export interface Adjustment {
  productId: number;
  delta: number;
  reason: string;
  actor: Actor;
}

/**
 * Applies a delta if the stock stays between zero and MAX_STOCK, and writes its ledger row, in one
 * statement, through drizzle on the executor given (the database, or a transaction: the same
 * driver either way). The bound is checked in bigint: the sum in integer would overflow (an error)
 * before it could be compared.
 */
export function adjustStatement({ productId, delta, reason, actor }: Adjustment): SQL {
  return sql`
  WITH changed AS (
    UPDATE products SET stock = stock + ${delta}::int
    WHERE id = ${productId}::bigint AND stock::bigint + ${delta}::int BETWEEN 0 AND ${sql.raw(String(MAX_STOCK))}
    RETURNING id, stock, version
  )
  INSERT INTO stock_movements (product_id, delta, reason, stock_after, api_key_id, idempotency_key)
  SELECT id, ${delta}::int, ${reason}::text, stock, ${actor.apiKeyId}::int, ${actor.idempotencyKey ?? null}::text
  FROM changed
  RETURNING id, delta, reason, stock_after, api_key_id, idempotency_key, created_at,
            (SELECT version FROM changed) AS version`;
}

type AdjustRow = Omit<MovementRow, 'api_key_name' | 'api_key_prefix'> & { version: number };

/**
 * Many adjustments, each of another product, in one statement (the coalescer's batch: see
 * coalescer.ts), with the same rule and the same ledger row per change as adjustStatement. It only
 * ever runs alone on the pool, never in a caller's transaction: one driver, pg, as a named prepared
 * statement (parsed and planned once per connection). Parameters are arrays, one element per
 * adjustment, in request order: product ids, deltas, reasons, API key ids, idempotency keys. A
 * product may appear once: an UPDATE changes a row once per statement.
 *  - `locked` takes the rows' locks first, in id order, as every other multi-row writer does (the
 *    batch endpoint applies its items in product-id order), so two batches never deadlock; its
 *    FOR UPDATE reads each row as last committed, which is the stock a refusal reports.
 *  - `changed` applies each delta that keeps the stock within bounds, re-checked on the row's
 *    latest version (READ COMMITTED), exactly as the single statement's WHERE does.
 *  - `moved` writes the ledger rows in request order (ids grow in that order).
 * One answer row per adjustment, in request order: `stock_before` null for an unknown product,
 * `movement_id` null for a refusal.
 */
const ADJUST_MANY_SQL = `
  WITH input AS MATERIALIZED (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::text[])
             WITH ORDINALITY AS i(product_id, delta, reason, api_key_id, idempotency_key, ord)
  ),
  locked AS MATERIALIZED (
    SELECT id, stock FROM products WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE
  ),
  changed AS (
    UPDATE products p SET stock = p.stock + i.delta
    FROM locked l JOIN input i ON i.product_id = l.id
    WHERE p.id = l.id AND p.stock::bigint + i.delta BETWEEN 0 AND ${MAX_STOCK}
    RETURNING p.id, p.stock, p.version, i.ord
  ),
  moved AS (
    INSERT INTO stock_movements (product_id, delta, reason, stock_after, api_key_id, idempotency_key)
    SELECT c.id, i.delta, i.reason, c.stock, i.api_key_id, i.idempotency_key
    FROM changed c JOIN input i ON i.ord = c.ord
    ORDER BY c.ord
    RETURNING id, product_id, created_at
  )
  SELECT i.ord, l.stock AS stock_before, c.stock AS stock_after, c.version, m.id AS movement_id, m.created_at
  FROM input i
  LEFT JOIN locked l ON l.id = i.product_id
  LEFT JOIN changed c ON c.ord = i.ord
  LEFT JOIN moved m ON m.product_id = i.product_id
  ORDER BY i.ord`;

type AdjustManyRow = {
  ord: string;
  stock_before: number | null;
  stock_after: number | null;
  version: number | null;
  movement_id: string | null;
  created_at: Date | null;
};

const toMovement = (row: MovementRow): StockMovement => ({
  id: Number(row.id),
  delta: row.delta,
  reason: row.reason,
  stock_after: row.stock_after,
  api_key:
    row.api_key_id === null ? null : { id: row.api_key_id, name: row.api_key_name!, prefix: row.api_key_prefix! },
  idempotency_key: row.idempotency_key,
  created_at: new Date(row.created_at).toISOString(),
});

export type AdjustResult =
  | { outcome: 'done'; change: StockChange }
  | { outcome: 'not-found' }
  | { outcome: 'insufficient'; stock: number }
  /** The stock would go above MAX_STOCK. */
  | { outcome: 'over'; stock: number };

/** An applied adjustment's answer: the product's new stock and version, and its ledger row. */
function applied(
  { productId, delta, reason, actor }: Adjustment,
  row: { movement_id: string; stock_after: number; version: number; created_at: Date | string },
): AdjustResult {
  const movement = toMovement({
    id: row.movement_id,
    delta,
    reason,
    stock_after: row.stock_after,
    api_key_id: actor.apiKeyId,
    api_key_name: actor.apiKeyName ?? null,
    api_key_prefix: actor.apiKeyPrefix ?? null,
    idempotency_key: actor.idempotencyKey ?? null,
    created_at: row.created_at,
  });
  return { outcome: 'done', change: { product_id: productId, stock: row.stock_after, version: row.version, movement } };
}

/**
 * A refused adjustment's answer. Which bound refused it follows from the delta's sign, not from the
 * stock read after the refusal: another change may have come between, and a decrement can only
 * have been refused by the lower bound (an increment by the upper one).
 */
const refused = (delta: number, stock: number): AdjustResult => ({
  outcome: delta < 0 ? 'insufficient' : 'over',
  stock,
});

export type SetResult =
  | { outcome: 'done'; change: StockChange }
  | { outcome: 'not-found' }
  | { outcome: 'stale'; stock: number; version: number };

/** An absolute level for a product, if it is still as the client saw it (its version or stock). */
export interface StockSetting {
  productId: number;
  stock: number;
  reason: string;
  actor: Actor;
  expect: { version?: number; stock?: number };
}

/**
 * Stock reads and changes, each change with its ledger row in the same statement or transaction.
 * A relative change is one conditional UPDATE (`stock + delta` within bounds): concurrent buyers
 * queue on the row lock and each sees the stock the previous one left, so nothing is oversold and
 * no update is lost. The CHECK constraints on products.stock stand behind it whatever path writes.
 */
export class StockRepository {
  readonly #db: Db;
  readonly #pool: pg.Pool;

  constructor({ db, pool }: Pick<Database, 'db' | 'pool'>) {
    this.#db = db;
    this.#pool = pool;
  }

  /** One statement (adjustStatement), on the database itself unless given a transaction. */
  async adjust(item: Adjustment, on: Executor = this.#db): Promise<AdjustResult> {
    const { rows } = await on.execute<AdjustRow>(adjustStatement(item));
    const row = rows[0];
    if (row) return applied(item, { ...row, movement_id: row.id });
    const current = await this.#current(on, item.productId);
    if (!current) return { outcome: 'not-found' };
    return refused(item.delta, current.stock);
  }

  /**
   * Adjustments of distinct products in one statement on the pool (ADJUST_MANY_SQL), each with its
   * own outcome, in the order given: what `adjust` would answer for each, run alone at that moment.
   */
  async adjustMany(items: readonly Adjustment[]): Promise<AdjustResult[]> {
    if (new Set(items.map((item) => item.productId)).size !== items.length) {
      throw new Error('adjustMany: a product may appear once per statement');
    }
    const { rows } = await this.#pool.query<AdjustManyRow>({
      name: 'stock_adjust_many',
      text: ADJUST_MANY_SQL,
      values: [
        items.map((item) => item.productId),
        items.map((item) => item.delta),
        items.map((item) => item.reason),
        items.map((item) => item.actor.apiKeyId),
        items.map((item) => item.actor.idempotencyKey ?? null),
      ],
    });
    if (rows.length !== items.length) throw new Error(`adjustMany: ${rows.length} answers to ${items.length} items`);
    return rows.map((row, index): AdjustResult => {
      const item = items[index]!;
      if (Number(row.ord) !== index + 1) throw new Error('adjustMany: answers out of order');
      if (row.movement_id !== null) {
        return applied(item, {
          movement_id: row.movement_id,
          stock_after: row.stock_after!,
          version: row.version!,
          created_at: row.created_at!,
        });
      }
      if (row.stock_before === null) return { outcome: 'not-found' };
      return refused(item.delta, row.stock_before);
    });
  }

  /** Sets an absolute level under the row's lock, in the transaction given. */
  async set(tx: Tx, { productId, stock, reason, actor, expect }: StockSetting): Promise<SetResult> {
    const current = await this.#current(tx, productId, true);
    if (!current) return { outcome: 'not-found' };
    if (
      (expect.version !== undefined && expect.version !== current.version) ||
      (expect.stock !== undefined && expect.stock !== current.stock)
    ) {
      return { outcome: 'stale', stock: current.stock, version: current.version };
    }
    if (stock === current.stock) {
      return { outcome: 'done', change: { product_id: productId, stock, version: current.version, movement: null } };
    }
    const result = await this.adjust({ productId, delta: stock - current.stock, reason, actor }, tx);
    if (result.outcome !== 'done') throw new Error(`stock changed under a row lock: ${result.outcome}`);
    return result;
  }

  async #current(on: Executor, productId: number, lock = false) {
    const { rows } = await on.execute<{ stock: number; version: number }>(
      lock
        ? sql`SELECT stock, version FROM products WHERE id = ${productId} FOR UPDATE`
        : sql`SELECT stock, version FROM products WHERE id = ${productId}`,
    );
    return rows[0];
  }

  /** The live stock and version of products by id or SKU, in id order; unknown ones left out. */
  async levels(ids: readonly number[], skus: readonly string[]): Promise<StockLevel[]> {
    const { rows } = await this.#db.execute<Omit<StockLevel, 'id'> & { id: string }>(sql`
      SELECT id, sku, slug, name, brand, status, stock, version FROM products
      WHERE id = ANY(${sql.param(ids)}::bigint[]) OR sku = ANY(${sql.param(skus)}::text[])
      ORDER BY id`);
    return rows.map((row) => ({ ...row, id: Number(row.id) }));
  }

  /** A product's movements, newest first, one page at a time (keyset on the movement id). */
  async movements(productId: number, limit: number, beforeId?: number) {
    const { rows } = await this.#db.execute<MovementRow>(sql`
      SELECT m.id, m.delta, m.reason, m.stock_after, m.api_key_id, k.name AS api_key_name,
             k.prefix AS api_key_prefix, m.idempotency_key, m.created_at
      FROM stock_movements m LEFT JOIN api_keys k ON k.id = m.api_key_id
      WHERE m.product_id = ${productId} ${beforeId === undefined ? sql`` : sql`AND m.id < ${beforeId}`}
      ORDER BY m.id DESC
      LIMIT ${limit + 1}`);
    return { rows: rows.slice(0, limit).map(toMovement), more: rows.length > limit };
  }

  async productExists(productId: number): Promise<boolean> {
    const { rows } = await this.#db.execute(sql`SELECT 1 FROM products WHERE id = ${productId}`);
    return rows.length > 0;
  }
}
