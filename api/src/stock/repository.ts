import { sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import type { Tx } from '../http/idempotency.ts';
import type { StockChange, StockMovement } from './schemas.ts';

export interface Actor {
  apiKeyId: number;
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
  created_at: Date;
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
  { outcome: 'done'; change: StockChange } | { outcome: 'not-found' } | { outcome: 'insufficient'; stock: number };

export type SetResult =
  | { outcome: 'done'; change: StockChange }
  | { outcome: 'not-found' }
  | { outcome: 'stale'; stock: number; version: number };

/**
 * Stock changes, each with its ledger row in the same statement or transaction. A relative change
 * is one conditional UPDATE (`stock + delta >= 0`): concurrent buyers queue on the row lock and
 * each sees the stock the previous one left, so nothing is oversold and no update is lost. The
 * CHECK constraint on products.stock stands behind it whatever path writes.
 */
export class StockRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async adjust(tx: Tx, productId: number, delta: number, reason: string, actor: Actor): Promise<AdjustResult> {
    const { rows } = await tx.execute<MovementRow & { version: number; product_stock: number }>(sql`
      WITH changed AS (
        UPDATE products SET stock = stock + ${delta}
        WHERE id = ${productId} AND stock + ${delta} >= 0
        RETURNING id, stock, version
      ), movement AS (
        INSERT INTO stock_movements (product_id, delta, reason, stock_after, api_key_id, idempotency_key)
        SELECT id, ${delta}, ${reason}, stock, ${actor.apiKeyId}, ${actor.idempotencyKey ?? null} FROM changed
        RETURNING id, delta, reason, stock_after, api_key_id, idempotency_key, created_at
      )
      SELECT m.*, c.version, c.stock AS product_stock, k.name AS api_key_name, k.prefix AS api_key_prefix
      FROM movement m JOIN changed c ON true LEFT JOIN api_keys k ON k.id = m.api_key_id`);
    const row = rows[0];
    if (row) {
      return {
        outcome: 'done',
        change: { product_id: productId, stock: row.product_stock, version: row.version, movement: toMovement(row) },
      };
    }
    const current = await this.#current(tx, productId);
    return current ? { outcome: 'insufficient', stock: current.stock } : { outcome: 'not-found' };
  }

  /** Sets an absolute level if the product is still as the client saw it (version or stock). */
  async set(
    tx: Tx,
    productId: number,
    stock: number,
    reason: string,
    expect: { version?: number; stock?: number },
    actor: Actor,
  ): Promise<SetResult> {
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
    const result = await this.adjust(tx, productId, stock - current.stock, reason, actor);
    if (result.outcome !== 'done') throw new Error(`stock changed under a row lock: ${result.outcome}`);
    return result;
  }

  async #current(tx: Tx, productId: number, lock = false) {
    const { rows } = await tx.execute<{ stock: number; version: number }>(
      lock
        ? sql`SELECT stock, version FROM products WHERE id = ${productId} FOR UPDATE`
        : sql`SELECT stock, version FROM products WHERE id = ${productId}`,
    );
    return rows[0];
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
