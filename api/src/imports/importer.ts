import { setImmediate as yieldToIo } from 'node:timers/promises';
import pg from 'pg';
import type { CategoryTree } from '../catalogue/category-tree.ts';
import { HttpProblem } from '../http/problem.ts';
import { ReportBuilder, type ImportReport } from './report.ts';
import { decoderFor, type Candidate, type ImportFormat } from './rows.ts';
import { Batch, Staging, type BatchOutcome } from './staging.ts';

export interface ImportOptions {
  format: ImportFormat;
  /** All or nothing: one transaction, rolled back if any row is rejected. */
  atomic: boolean;
  /** The key the ledger rows are written under; null for the command line. */
  apiKeyId: number | null;
  /** The category tree, read at the start and before each batch (a cached read). */
  categories: () => Promise<CategoryTree>;
  /** Rows per batch; each batch is one COPY and a handful of set-based statements. */
  batchSize?: number;
  /** A batch is also written once its COPY text reaches this many characters (long rows). */
  batchChars?: number;
  /** Told when a batch's SQL failed and its rows were rejected (to log it). */
  onBatchError?: (error: unknown) => void;
  /** Told the number of rows read so far, after each chunk. */
  onProgress?: (rows: number) => void;
}

export interface ImportResult {
  report: ImportReport;
  /** False when an all-or-nothing import was rolled back. */
  committed: boolean;
}

export const DEFAULT_BATCH_SIZE = 5_000;
/** 4 Mi characters: with rows of a few hundred bytes the row count ends a batch first. */
export const DEFAULT_BATCH_CHARS = 4 * 1_048_576;

/**
 * SQLSTATE classes of errors that say nothing about the rows (the connection or the server is
 * gone): they fail the import rather than reject a batch.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const FATAL_CLASSES = new Set(['08', '53', '57', '58', 'XX']);

function rowsFailure(error: unknown): error is pg.DatabaseError {
  return error instanceof pg.DatabaseError && !FATAL_CLASSES.has((error.code ?? 'XX').slice(0, 2));
}

/**
 * Imports products from a stream of NDJSON or CSV bytes, upserting by sku, in bounded memory:
 * rows are parsed as the bytes arrive, collected into batches (bounded in rows and in characters),
 * and each batch is written while the next one is parsed (at most two batches are held; the
 * stream is read no faster than the database writes). Non-atomic, each batch commits on its own; atomic, everything is one
 * transaction, committed only if no row was rejected.
 *
 * Throws an HttpProblem below 500 for a body refused as a whole (a bad CSV header, before any
 * change) and whatever the source throws (a body too large, a client gone): batches committed
 * before that stay committed unless the import is atomic.
 */
export async function importProducts(
  pool: pg.Pool,
  source: AsyncIterable<Buffer>,
  options: ImportOptions,
): Promise<ImportResult> {
  return withConnection(pool, (client) => importOn(client, source, options));
}

/**
 * Runs `work` on one pooled connection. On failure the connection is discarded rather than pooled:
 * the server rolls back its transaction and drops its session tables, whatever state the failure
 * left them in.
 */
export async function withConnection<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed = false;
  try {
    return await work(client);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    client.release(failed);
  }
}

/** importProducts on a connection the caller holds (and cleans up after a failure: withConnection). */
export async function importOn(
  client: pg.PoolClient,
  source: AsyncIterable<Buffer>,
  options: ImportOptions,
): Promise<ImportResult> {
  const { atomic, batchSize = DEFAULT_BATCH_SIZE, batchChars = DEFAULT_BATCH_CHARS } = options;
  const report = new ReportBuilder();
  const decoder = decoderFor(options.format);
  const staging = await Staging.open(client, options.apiKeyId);
  if (atomic) await client.query('BEGIN');
  let tree = await options.categories();
  let batch = new Batch();
  let writing: Promise<void> | undefined;
  let rows = 0;

  const accept = (candidate: Candidate) => {
    rows += 1;
    if ('reason' in candidate) return report.reject(candidate);
    const category = tree.bySlug.get(candidate.product.category);
    if (!category) {
      return report.reject({
        line: candidate.line,
        sku: candidate.product.sku,
        reason: `category: no category with slug '${candidate.product.category}'`,
      });
    }
    batch.add(candidate.line, candidate.product, category.id);
  };

  /** Waits for the batch being written, then starts writing the one collected. */
  const flush = async () => {
    await writing;
    const rowsOfBatch = batch;
    batch = new Batch();
    if (rowsOfBatch.size > 0) {
      writing = writeBatch(staging, rowsOfBatch, atomic, options.onBatchError).then((outcome) =>
        record(report, outcome),
      );
      // Observed now, so a failure while the next chunk is awaited is not an unhandled
      // rejection; it is thrown where `writing` is next awaited.
      writing.catch(() => undefined);
    }
    tree = await options.categories();
  };

  try {
    for await (const chunk of source) {
      for (const candidate of decoder.push(chunk)) {
        accept(candidate);
        if (batch.full(batchSize, batchChars)) await flush();
      }
      options.onProgress?.(rows);
      // A body already buffered is read through promises alone, which would keep the event loop
      // from the database's answers until the whole next batch is parsed: the write would wait
      // for the parse instead of running beside it. Let I/O in between chunks.
      await yieldToIo();
    }
    for (const candidate of await decoder.end()) {
      accept(candidate);
      if (batch.full(batchSize, batchChars)) await flush();
    }
    await flush();
    await writing;
  } catch (error) {
    // Let the batch in flight finish before the connection is rolled back and reused.
    await writing?.catch(() => undefined);
    throw error;
  }

  const committed = !atomic || report.rejected === 0;
  if (atomic) await client.query(committed ? 'COMMIT' : 'ROLLBACK');
  await staging.close();
  return { report: report.build(), committed };
}

function record(report: ReportBuilder, outcome: BatchOutcome): void {
  report.created += outcome.created;
  report.updated += outcome.updated;
  report.unchanged += outcome.unchanged;
  for (const rejected of outcome.rejected) report.reject(rejected);
}

/** unique_violation: another writer created a sku or took a slug between the checks and the writes. */
const UNIQUE_VIOLATION = '23505';

/**
 * One batch, in its own transaction (non-atomic) or a savepoint of the import's (atomic). The
 * checks before the writes leave nothing that should fail. If another writer created one of the
 * batch's skus, or took one of its slugs, between the checks and the writes, the batch is rolled
 * back and written once more: the checks then see that writer's product. If the SQL fails all
 * the same, the batch's rows are rejected with the reason and the import goes on (atomic: to be
 * rolled back at the end, with the whole report).
 */
async function writeBatch(
  staging: Staging,
  rows: Batch,
  atomic: boolean,
  onError?: (error: unknown) => void,
): Promise<BatchOutcome> {
  for (let attempt = 1; ; attempt++) {
    await staging.query(atomic ? 'SAVEPOINT batch' : 'BEGIN');
    try {
      const outcome = await staging.write(rows);
      await staging.query(atomic ? 'RELEASE SAVEPOINT batch' : 'COMMIT');
      return outcome;
    } catch (error) {
      if (!rowsFailure(error)) throw error;
      await staging.query(atomic ? 'ROLLBACK TO SAVEPOINT batch' : 'ROLLBACK');
      if (error.code === UNIQUE_VIOLATION && attempt === 1) continue;
      onError?.(error);
      const reason = `not written: the batch of lines ${rows.lines[0]} to ${rows.lines.at(-1)} failed (SQLSTATE ${error.code}${error.constraint ? ` on ${error.constraint}` : ''}); send these rows again`;
      return {
        created: 0,
        updated: 0,
        unchanged: 0,
        rejected: rows.lines.map((line, i) => ({ line, sku: rows.skus[i], reason })),
      };
    }
  }
}

/** Counts the bytes of a stream, refusing it past `maxBytes` with a 413. */
export async function* limitBytes(
  source: AsyncIterable<Buffer | string>,
  maxBytes: number,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    onBytes?.(total);
    yield bytes;
  }
}

export const tooLarge = (maxBytes: number) =>
  new HttpProblem(413, 'payload-too-large', 'Payload Too Large', `An import body is at most ${maxBytes} bytes.`);
