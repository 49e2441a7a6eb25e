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
    if (row) {
      const movement = toMovement({
        ...row,
        api_key_name: actor.apiKeyName ?? null,
        api_key_prefix: actor.apiKeyPrefix ?? null,
      });
      return {
        outcome: 'done',
        change: { product_id: productId, stock: row.stock_after, version: row.version, movement },
      };
    }
    const current = await this.#current(tx, productId);
    if (!current) return { outcome: 'not-found' };
    return { outcome: current.stock + delta < 0 ? 'insufficient' : 'over', stock: current.stock };
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
