import { sql, type SQL } from 'drizzle-orm';
import type pg from 'pg';
import type { Database, Db } from '../db/database.ts';
import type { FastifyRequest } from 'fastify';
import { idempotencyKey, type Executor, type Tx } from '../http/idempotency.ts';
import { MAX_STOCK, type StockChange, type StockMovement } from './schemas.ts';

export interface Actor {
  apiKeyId: number;
  /** Shown in the answer's movement; the ledger keeps only the id. */
  apiKeyName?: string;
  apiKeyPrefix?: string;
  idempotencyKey?: string;
}

/** The actor of an authenticated request (the stock routes require a key). */
export function actorOf(request: FastifyRequest): Actor {
  const key = request.apiKey!;
  return { apiKeyId: key.id, apiKeyName: key.name, apiKeyPrefix: key.prefix, idempotencyKey: idempotencyKey(request) };
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

/**
 * Applies a delta if the stock stays between zero and MAX_STOCK, and writes its ledger row, in one
 * statement (the bench's raw ceiling sends it too). The bound is checked in bigint: the sum in
 * integer would overflow (an error) before it could be compared.
 */
export const ADJUST_SQL = `
  WITH changed AS (
    UPDATE products SET stock = stock + $2::int
    WHERE id = $1::bigint AND stock::bigint + $2::int BETWEEN 0 AND ${MAX_STOCK}
    RETURNING id, stock, version
  )
  INSERT INTO stock_movements (product_id, delta, reason, stock_after, api_key_id, idempotency_key)
  SELECT id, $2::int, $3::text, stock, $4::int, $5::text FROM changed
  RETURNING id, delta, reason, stock_after, api_key_id, idempotency_key, created_at,
            (SELECT version FROM changed) AS version`;

type AdjustRow = Omit<MovementRow, 'api_key_name' | 'api_key_prefix'> & { version: number };

/**
 * Many adjustments, each of another product, in one statement (the coalescer's batch: see
 * coalescer.ts), with the same rule and the same ledger row per change as ADJUST_SQL. Parameters
 * are arrays, one element per adjustment, in request order: product ids, deltas, reasons, API key
 * ids, idempotency keys. A product may appear once: an UPDATE changes a row once per statement.
 *  - `locked` takes the rows' locks first, in id order, as every other multi-row writer does (the
 *    batch endpoint applies its items in product-id order), so two batches never deadlock; its
 *    FOR UPDATE reads each row as last committed, which is the stock a refusal reports.
 *  - `changed` applies each delta that keeps the stock within bounds, re-checked on the row's
 *    latest version (READ COMMITTED), exactly as the single statement's WHERE does.
 *  - `moved` writes the ledger rows in request order (ids grow in that order).
 * One answer row per adjustment, in request order: `stock_before` null for an unknown product,
 * `movement_id` null for a refusal.
 */
export const ADJUST_MANY_SQL = `
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

/** One adjustment of a batch (coalescer.ts). */
export interface Adjustment {
  productId: number;
  delta: number;
  reason: string;
  actor: Actor;
}

/** The same statement through drizzle (inside a transaction): `$n` become bound parameters. */
function parameterised(text: string, values: unknown[]): SQL {
  const pieces = text.split(/\$(\d+)/);
  return sql.join(
    pieces.map((piece, i) => (i % 2 === 0 ? sql.raw(piece) : sql`${values[Number(piece) - 1]}`)),
    sql.raw(''),
  );
}

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
  productId: number,
  delta: number,
  reason: string,
  actor: Actor,
  row: { movement_id: string; stock_after: number; version: number; created_at: Date },
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
 * A refused adjustment's answer. Which bound refused it follows from the delta's sign, not from a
 * stock read after the refusal: another change may have come between (a decrement refused at 2
 * units, then 3 after a delivery, was answered "stock limit").
 */
const refused = (delta: number, stock: number): AdjustResult => ({
  outcome: delta < 0 ? 'insufficient' : 'over',
  stock,
});

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
  readonly #pool: pg.Pool;

  constructor({ db, pool }: Pick<Database, 'db' | 'pool'>) {
    this.#db = db;
    this.#pool = pool;
  }

  /**
   * One statement: the conditional UPDATE and the ledger INSERT. Outside a transaction it runs as
   * a named prepared statement on the pool (parsed and planned once per connection).
   */
  async adjust(tx: Executor, productId: number, delta: number, reason: string, actor: Actor): Promise<AdjustResult> {
    const values = [productId, delta, reason, actor.apiKeyId, actor.idempotencyKey ?? null];
    const { rows } =
      tx === this.#db
        ? await this.#pool.query<AdjustRow>({ name: 'stock_adjust', text: ADJUST_SQL, values })
        : await tx.execute<AdjustRow>(parameterised(ADJUST_SQL, values));
    const row = rows[0];
    if (row) return applied(productId, delta, reason, actor, { ...row, movement_id: row.id });
    const current = await this.#current(tx, productId);
    if (!current) return { outcome: 'not-found' };
    return refused(delta, current.stock);
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
      const { productId, delta, reason, actor } = items[index]!;
      if (Number(row.ord) !== index + 1) throw new Error('adjustMany: answers out of order');
      if (row.movement_id !== null) {
        return applied(productId, delta, reason, actor, {
          movement_id: row.movement_id,
          stock_after: row.stock_after!,
          version: row.version!,
          created_at: row.created_at!,
        });
      }
      if (row.stock_before === null) return { outcome: 'not-found' };
      return refused(delta, row.stock_before);
    });
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

  async #current(tx: Executor, productId: number, lock = false) {
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
