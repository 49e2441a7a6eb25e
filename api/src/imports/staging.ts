import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ProductCreate } from '../catalogue/write-schemas.ts';
import { copyText } from '../seed/load.ts';
import type { ImportRowError } from './report.ts';

/**
 * Valid rows collected for one write, held as COPY text rather than as parsed objects: a few
 * hundred bytes a row instead of an object graph, and garbage the young generation reclaims.
 */
export class Batch {
  text = '';
  readonly lines: number[] = [];
  readonly skus: string[] = [];

  add(line: number, product: ProductCreate, categoryId: number): void {
    this.text += copyLine(line, product, categoryId);
    this.lines.push(line);
    this.skus.push(product.sku);
  }

  get size(): number {
    return this.lines.length;
  }

  full(rows: number, chars: number): boolean {
    return this.lines.length >= rows || this.text.length >= chars;
  }
}

export interface BatchOutcome {
  created: number;
  updated: number;
  unchanged: number;
  rejected: ImportRowError[];
}

/**
 * The import's session tables (TEMP: private to the connection, never WAL-logged; their buffers,
 * temp_buffers, are set as the primary pool's connections open: db/database.ts):
 *  - import_batch: the batch being written, COPYed in, with each row's verdict;
 *  - import_skus: every sku the import has claimed so far, with its line, so that a sku repeated
 *    in a later batch is found by the database (the earlier row is a product by then, which the
 *    repeat would silently update) and not held in the API's memory.
 * Optional fields are NULL when the row leaves them out: a new product takes the default, an
 * existing one keeps its value (`brand_given` tells "no brand" from "brand not given").
 */
const CREATE_TABLES = `
  DROP TABLE IF EXISTS import_batch, import_skus;
  CREATE TEMP TABLE import_batch (
    line bigint NOT NULL, sku text NOT NULL, slug text NOT NULL, name text NOT NULL,
    description text, brand_given boolean NOT NULL, brand text, category_id integer NOT NULL,
    price_amount integer NOT NULL, currency char(3) NOT NULL, images jsonb, attributes jsonb,
    status product_status, stock integer,
    product_id bigint, reject text
  );
  CREATE TEMP TABLE import_skus (sku text PRIMARY KEY, line bigint NOT NULL);`;

const COPY_BATCH = `COPY import_batch (line, sku, slug, name, description, brand_given, brand, category_id,
  price_amount, currency, images, attributes, status, stock) FROM STDIN`;

/**
 * The checks, in order, each set-based over the batch; a row that fails one gets its reason and
 * is left out of the rest. Plans: the batch table is never ANALYZEd (that cost a tenth of the
 * import's time); without statistics the planner guesses few rows per condition, and every lookup into a big table (products, the claims) is a
 * correlated subquery or a LATERAL join, that is an index probe per batch row, which no
 * statistics can turn into a scan of the whole catalogue.
 */
const CHECKS = [
  // A sku seen on an earlier line of the import: claims are inserted in line order, the earliest
  // line wins, and a row whose claim did not insert is a repeat.
  `WITH claimed AS (
     INSERT INTO import_skus (sku, line) SELECT sku, line FROM import_batch ORDER BY line
     ON CONFLICT (sku) DO NOTHING RETURNING line
   )
   UPDATE import_batch SET reject = 'sku' WHERE line NOT IN (SELECT line FROM claimed)`,
  `UPDATE import_batch b SET reject = 'duplicate of line ' || (SELECT s.line FROM import_skus s WHERE s.sku = b.sku)
    WHERE b.reject = 'sku'`,
  // A slug that belongs to another product (one with another sku); when that product was written
  // by an earlier batch of this import, its line is named.
  `UPDATE import_batch b
      SET reject = (SELECT coalesce('slug ' || b.slug || ' is also on line ' || s.line,
                                    format('slug %s belongs to another product (sku %s)', b.slug, p.sku))
                      FROM products p LEFT JOIN import_skus s ON s.sku = p.sku WHERE p.slug = b.slug)
    WHERE b.reject IS NULL AND (SELECT p.sku FROM products p WHERE p.slug = b.slug) <> b.sku`,
  // A slug repeated within the batch (across batches, the check above finds it in products).
  `UPDATE import_batch b SET reject = format('slug %s is also on line %s', b.slug, f.line)
     FROM (SELECT slug, min(line) AS line FROM import_batch WHERE reject IS NULL GROUP BY slug HAVING count(*) > 1) f
    WHERE b.reject IS NULL AND b.slug = f.slug AND b.line > f.line`,
  // The existing products among the rest, locked in sku order: two imports writing the same
  // products lock them in the same order, so one waits for the other rather than deadlocking.
  `WITH locked AS MATERIALIZED (
     SELECT x.line, p.id
       FROM (SELECT line, sku FROM import_batch WHERE reject IS NULL ORDER BY sku OFFSET 0) x
       CROSS JOIN LATERAL (SELECT id FROM products p WHERE p.sku = x.sku FOR UPDATE) p
   )
   UPDATE import_batch b SET product_id = l.id FROM locked l WHERE b.line = l.line`,
];

/**
 * Existing products take the row's fields (the current value where the row leaves one out). Only
 * rows that change something are written, so an unchanged product keeps its version and
 * updated_at. A stock change is written to the ledger as a delta, in the same statement.
 */
const UPDATE_EXISTING = `
  WITH incoming AS MATERIALIZED (
    SELECT p.id, b.slug, b.name, coalesce(b.description, p.description) AS description,
           CASE WHEN b.brand_given THEN b.brand ELSE p.brand END AS brand, b.category_id, b.price_amount,
           b.currency, coalesce(b.images, p.images) AS images, coalesce(b.attributes, p.attributes) AS attributes,
           coalesce(b.status, p.status) AS status, coalesce(b.stock, p.stock) AS stock
      FROM import_batch b
      CROSS JOIN LATERAL (SELECT * FROM products p WHERE p.id = b.product_id OFFSET 0) p
     WHERE b.reject IS NULL AND b.product_id IS NOT NULL
  ), changed AS (
    UPDATE products p
       SET slug = i.slug, name = i.name, description = i.description, brand = i.brand, category_id = i.category_id,
           price_amount = i.price_amount, currency = i.currency, images = i.images, attributes = i.attributes,
           status = i.status, stock = i.stock
      FROM incoming i
     WHERE p.id = i.id
       AND (p.slug, p.name, p.description, p.brand, p.category_id, p.price_amount, p.currency, p.images,
            p.attributes, p.status, p.stock)
           IS DISTINCT FROM
           (i.slug, i.name, i.description, i.brand, i.category_id, i.price_amount, i.currency, i.images,
            i.attributes, i.status, i.stock)
    RETURNING p.id, old.stock AS stock_before, new.stock AS stock_after
  ), ledger AS (
    INSERT INTO stock_movements (product_id, delta, reason, stock_after, api_key_id)
    SELECT id, stock_after - stock_before, 'import', stock_after, $1 FROM changed WHERE stock_after <> stock_before
  )
  SELECT count(*)::int AS updated FROM changed`;

/**
 * New products, with their opening stock in the ledger. A plain INSERT (ON CONFLICT would cost a
 * tenth more): a sku another writer created since the checks fails the batch with a unique
 * violation, and the batch is written again (see importer.ts).
 */
const INSERT_NEW = `
  WITH created AS (
    INSERT INTO products (sku, slug, name, description, brand, category_id, price_amount, currency, images,
                          attributes, status, stock)
    SELECT sku, slug, name, coalesce(description, ''), brand, category_id, price_amount, currency,
           coalesce(images, '[]'), coalesce(attributes, '{}'), coalesce(status, 'draft'), coalesce(stock, 0)
      FROM import_batch WHERE reject IS NULL AND product_id IS NULL ORDER BY sku
    RETURNING id, stock
  ), ledger AS (
    INSERT INTO stock_movements (product_id, delta, reason, stock_after, api_key_id)
    SELECT id, stock, 'import', stock, $1 FROM created WHERE stock > 0
  )
  SELECT count(*)::int AS created FROM created`;

const REJECTED = `SELECT line::int AS line, sku, reject AS reason FROM import_batch WHERE reject IS NOT NULL ORDER BY line`;

export const DROP_TABLES = 'DROP TABLE IF EXISTS import_batch, import_skus';

/** One row in COPY text format (NULL is `\N`). */
function copyLine(line: number, product: ProductCreate, categoryId: number): string {
  const optional = (value: string | undefined) => (value === undefined ? '\\N' : copyText(value));
  const json = (value: unknown) => (value === undefined ? '\\N' : copyText(JSON.stringify(value)));
  return `${[
    line,
    copyText(product.sku),
    copyText(product.slug),
    copyText(product.name),
    optional(product.description),
    product.brand === undefined ? 'f' : 't',
    product.brand == null ? '\\N' : copyText(product.brand),
    categoryId,
    product.price.amount,
    copyText(product.price.currency),
    json(product.images),
    json(product.attributes),
    product.status ?? '\\N',
    product.stock ?? '\\N',
  ].join('\t')}\n`;
}

/** Writes batches of valid rows into products through the session tables, on one connection. */
export class Staging {
  readonly #client: pg.PoolClient;
  readonly #apiKeyId: number | null;

  private constructor(client: pg.PoolClient, apiKeyId: number | null) {
    this.#client = client;
    this.#apiKeyId = apiKeyId;
  }

  static async open(client: pg.PoolClient, apiKeyId: number | null): Promise<Staging> {
    await client.query(CREATE_TABLES);
    return new Staging(client, apiKeyId);
  }

  /** Writes one batch inside the caller's transaction; a row that cannot be written says why. */
  async write(batch: Batch): Promise<BatchOutcome> {
    const client = this.#client;
    await client.query('TRUNCATE import_batch');
    await pipeline(Readable.from([batch.text]), client.query(copyFrom(COPY_BATCH)));
    for (const statement of CHECKS) await client.query(statement);
    const updated = (await client.query<{ updated: number }>(UPDATE_EXISTING, [this.#apiKeyId])).rows[0]!.updated;
    const created = (await client.query<{ created: number }>(INSERT_NEW, [this.#apiKeyId])).rows[0]!.created;
    const { rows: rejected } = await client.query<{ line: number; sku: string; reason: string }>(REJECTED);
    return { created, updated, unchanged: batch.size - rejected.length - created - updated, rejected };
  }

  /** Transaction control on the import's connection. */
  async query(
    statement:
      'BEGIN' | 'COMMIT' | 'ROLLBACK' | 'SAVEPOINT batch' | 'RELEASE SAVEPOINT batch' | 'ROLLBACK TO SAVEPOINT batch',
  ): Promise<void> {
    await this.#client.query(statement);
  }

  /** Drops the session tables: the connection goes back to the pool as it came. */
  async close(): Promise<void> {
    await this.#client.query(DROP_TABLES);
  }
}
