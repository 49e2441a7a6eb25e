import { MeilisearchApiError, type EnqueuedTaskPromise, type Meilisearch, type Task } from 'meilisearch';
import type pg from 'pg';
import { documentsBetween, documentsFor, documentPage, INDEX_SETTINGS, type ProductDocument } from './documents.ts';

export interface SyncLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface SyncOptions {
  /** The live index's uid (MEILISEARCH_INDEX). */
  indexUid: string;
  /** How long to wait for one Meilisearch task before giving up on it (and retrying later). */
  taskTimeoutMs: number;
  log: SyncLog;
}

interface SyncState {
  building_uid: string | null;
  ready: boolean;
}

/** A Meilisearch task that ended in any state but `succeeded`: its changes are not in the index. */
export class TaskFailedError extends Error {
  constructor(readonly task: Task) {
    super(`Meilisearch task ${task.uid} (${task.type}) ${task.status}: ${task.error?.message ?? 'no error given'}`);
  }
}

/** What one batch of the outbox did. */
export interface Drained {
  /** Outbox rows removed (repeats of a product collapse into one document). */
  rows: number;
  upserted: number;
  deleted: number;
}

export interface Drift {
  /** Documents compared (index and database). */
  checked: number;
  /** Active products the index lacks. */
  missing: number;
  /** Documents whose product is archived, draft or gone. */
  orphans: number;
  /** Documents that differ from their product. */
  stale: number;
}

/** Arbitrary constant: one reindex at a time, across processes. */
const REINDEX_LOCK = 727_104;

/**
 * Keeps a Meilisearch index in step with the catalogue through the transactional outbox
 * (migrations/0006): changes are recorded in the same transaction as the write, and an outbox row
 * is deleted only once Meilisearch reports the task that carries it `succeeded`.
 *
 * Every write to the index happens under the sync lease, the search_sync row locked FOR UPDATE:
 * indexers take it with SKIP LOCKED, so a second indexer skips rather than double-processes, and
 * a reindex waits for it. One writer at a time is what keeps the index right, not only cheaper:
 * with two indexers on the same product, the one that read the older row could have its task
 * enqueued last, and the index would keep the older product while the newer outbox row was gone.
 * (Meilisearch applies one index's tasks one at a time anyway, so a second writer adds no speed.)
 */
export class SearchSync {
  readonly #pool: pg.Pool;
  readonly #client: Meilisearch;
  readonly #options: SyncOptions;
  readonly #closing = new AbortController();

  constructor(pool: pg.Pool, client: Meilisearch, options: SyncOptions) {
    this.#pool = pool;
    this.#client = client;
    this.#options = options;
  }

  get indexUid(): string {
    return this.#options.indexUid;
  }

  /** The index a reindex builds before swapping it in. */
  get buildingUid(): string {
    return `${this.#options.indexUid}__reindex`;
  }

  /** Waits for a task to end; anything but `succeeded` (or waiting too long) is an error. */
  async settle(enqueued: EnqueuedTaskPromise): Promise<Task> {
    const { signal } = this.#closing;
    signal.throwIfAborted();
    let stop: (() => void) | undefined;
    const closed = new Promise<never>((_, reject) => {
      stop = () => reject(signal.reason as Error);
      signal.addEventListener('abort', stop, { once: true });
    });
    try {
      const task = await Promise.race([
        enqueued.waitTask({ timeout: this.#options.taskTimeoutMs, interval: 20 }),
        closed,
      ]);
      if (task.status !== 'succeeded') throw new TaskFailedError(task);
      return task;
    } finally {
      signal.removeEventListener('abort', stop!);
    }
  }

  /**
   * Shutting down: every wait for a task ends now with an error, so a batch in hand rolls back
   * (its outbox rows stay for the next process) instead of holding the shutdown for a task timeout.
   */
  close(): void {
    this.#closing.abort(new Error('search sync closed'));
  }

  /** Creates the index when missing and applies the settings declared in code. */
  async prepareIndex(uid: string): Promise<void> {
    const exists = await this.#client
      .index(uid)
      .getRawInfo()
      .then(() => true)
      .catch((error: unknown) => {
        if (error instanceof MeilisearchApiError && error.cause?.code === 'index_not_found') return false;
        throw error;
      });
    if (!exists) await this.settle(this.#client.createIndex(uid, { primaryKey: 'id' }));
    await this.settle(this.#client.index(uid).updateSettings(INDEX_SETTINGS));
  }

  /**
   * Starts recording changes in the outbox for this index, once. Writers already in flight are
   * waited out (a SHARE lock conflicts with their row locks) so that no change can commit after
   * a reindex has read its product without having been recorded.
   */
  async enable(): Promise<void> {
    const { rowCount } = await this.#pool.query('SELECT 1 FROM search_sync WHERE index_uid = $1', [this.indexUid]);
    if (rowCount) return;
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE products, categories IN SHARE MODE');
      await client.query('INSERT INTO search_sync (index_uid) VALUES ($1) ON CONFLICT DO NOTHING', [this.indexUid]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Whether the live index has been built from the database (until then, search asks PostgreSQL). */
  async isReady(): Promise<boolean> {
    const { rows } = await this.#pool.query<{ ready: boolean }>('SELECT ready FROM search_sync WHERE index_uid = $1', [
      this.indexUid,
    ]);
    return rows[0]?.ready ?? false;
  }

  /**
   * Runs `work` holding the lease, in one transaction. With `wait: false`, answers null at once
   * when another process holds it.
   */
  async withLease<T>(
    work: (db: pg.PoolClient, state: SyncState) => Promise<T>,
    { wait }: { wait: boolean },
  ): Promise<T | null> {
    const db = await this.#pool.connect();
    try {
      await db.query('BEGIN');
      const { rows } = await db.query<SyncState>(
        `SELECT building_uid, ready FROM search_sync WHERE index_uid = $1 FOR UPDATE${wait ? '' : ' SKIP LOCKED'}`,
        [this.indexUid],
      );
      const state = rows[0];
      if (!state) {
        await db.query('ROLLBACK');
        return null;
      }
      const result = await work(db, state);
      await db.query('COMMIT');
      return result;
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      db.release();
    }
  }

  /** Upserts and deletes in each index, and waits until Meilisearch reports every task succeeded. */
  async write(uids: string[], documents: ProductDocument[], deletes: number[]): Promise<void> {
    const tasks: EnqueuedTaskPromise[] = [];
    for (const uid of uids) {
      const index = this.#client.index(uid);
      if (documents.length > 0) tasks.push(index.addDocuments(documents, { primaryKey: 'id' }));
      if (deletes.length > 0) tasks.push(index.deleteDocuments(deletes));
    }
    // Enqueued together (Meilisearch batches them), then each one checked. Once one has failed the
    // others are not waited for, but their failures must still count as handled: an unhandled
    // rejection (Meilisearch down with an upsert and a delete in flight) would end the process.
    for (const task of tasks) task.catch(() => undefined);
    for (const task of tasks) await this.settle(task);
  }

  /**
   * One batch of the outbox, oldest first: the products it names are read as they are now, active
   * ones upserted and the others deleted (in the index being rebuilt too, during a reindex), and
   * the rows removed in the same transaction once every task has succeeded. On any failure the
   * transaction rolls back and the rows stay for the next attempt. Null when another indexer
   * holds the lease; rows 0 when the outbox is empty.
   */
  async drainBatch(limit: number): Promise<Drained | null> {
    return this.withLease(
      async (db, state) => {
        const { rows } = await db.query<{ id: string; product_id: string }>(
          'SELECT id, product_id FROM search_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
          [limit],
        );
        if (rows.length === 0) return { rows: 0, upserted: 0, deleted: 0 };
        const ids = [...new Set(rows.map((r) => Number(r.product_id)))];
        const documents = await documentsFor(db, ids);
        const active = new Set(documents.map((d) => d.id));
        const deletes = ids.filter((id) => !active.has(id));
        const uids = state.building_uid ? [this.indexUid, state.building_uid] : [this.indexUid];
        await this.write(uids, documents, deletes);
        await db.query('DELETE FROM search_outbox WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
        return { rows: rows.length, upserted: documents.length, deleted: deletes.length };
      },
      { wait: false },
    );
  }

  /**
   * Builds a fresh index from the database, page by page, and swaps it in: search keeps answering
   * from the old one meanwhile. Changes made during the build reach both indexes through the
   * outbox; each page is read and written under the lease, so a page never lands after a newer
   * change to one of its products. The old index is dropped after the swap.
   */
  async reindex(
    options: { pageSize?: number; signal?: AbortSignal; progress?: (indexed: number) => void } = {},
  ): Promise<{ indexed: number }> {
    const pageSize = options.pageSize ?? 5_000;
    const lock = await this.#pool.connect();
    try {
      const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        REINDEX_LOCK,
      ]);
      if (!rows[0]?.locked) throw new Error('a reindex is already running');
      try {
        await this.enable();
        const building = this.buildingUid;
        await this.#dropIndex(building);
        await this.prepareIndex(building);
        await this.prepareIndex(this.indexUid);
        // Products created from now on reach the new index through the outbox: the build stops at
        // the last one there is now, rather than chasing a catalogue that keeps growing.
        const lastId = await this.withLease(
          async (db) => {
            await this.#setBuilding(db, building);
            const { rows } = await db.query<{ last: string | null }>('SELECT max(id) AS last FROM products');
            return Number(rows[0]?.last ?? 0);
          },
          { wait: true },
        );
        let indexed = 0;
        let after = 0;
        for (;;) {
          options.signal?.throwIfAborted();
          const page = await this.withLease(
            async (db) => {
              const documents = await documentPage(db, after, lastId ?? 0, pageSize);
              if (documents.length > 0) await this.write([building], documents, []);
              return documents;
            },
            { wait: true },
          );
          if (!page?.length) break;
          after = page.at(-1)!.id;
          indexed += page.length;
          options.progress?.(indexed);
        }
        await this.withLease(
          async (db) => {
            await this.settle(this.#client.swapIndexes([{ indexes: [this.indexUid, building], rename: false }]));
            await db.query(
              'UPDATE search_sync SET building_uid = NULL, ready = true, updated_at = now() WHERE index_uid = $1',
              [this.indexUid],
            );
          },
          { wait: true },
        );
        // The swap left the old documents under the building uid.
        await this.#dropIndex(building);
        this.#options.log.info({ index: this.indexUid, indexed }, 'search index rebuilt and swapped in');
        return { indexed };
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1)', [REINDEX_LOCK]);
      }
    } finally {
      lock.release();
    }
  }

  async #setBuilding(db: pg.PoolClient, building: string | null): Promise<void> {
    await db.query('UPDATE search_sync SET building_uid = $2, updated_at = now() WHERE index_uid = $1', [
      this.indexUid,
      building,
    ]);
  }

  async #dropIndex(uid: string): Promise<void> {
    await this.settle(this.#client.deleteIndex(uid)).catch((error: unknown) => {
      if (error instanceof TaskFailedError && error.task.error?.code === 'index_not_found') return;
      throw error;
    });
  }

  /**
   * Compares the index with the database, id range by id range (documents/fetch with a filter on
   * id: search would stop at maxTotalHits), and records every product that differs in the outbox:
   * missing, orphaned (archived, draft or deleted) and stale documents alike. The indexer then
   * repairs them like any other change, so a repair cannot race one. With `repair: false`, only
   * counts.
   */
  async reconcile(options: { rangeSize?: number; repair?: boolean } = {}): Promise<Drift> {
    const rangeSize = options.rangeSize ?? 10_000;
    const drift: Drift = { checked: 0, missing: 0, orphans: 0, stale: 0 };
    const suspects: number[] = [];
    const { rows } = await this.#pool.query<{ max: string | null }>('SELECT max(id) AS max FROM products');
    const maxId = Number(rows[0]?.max ?? 0);
    for (let from = 0; from <= maxId; from += rangeSize) {
      // The last range is open: documents for ids no product ever had are orphans too.
      const to = from + rangeSize > maxId ? Number.MAX_SAFE_INTEGER : from + rangeSize;
      const [indexed, current] = await Promise.all([
        this.#fetchRange(from, to),
        documentsBetween(this.#pool, from, to),
      ]);
      const expected = new Map(current.map((d) => [d.id, canonical(d)]));
      for (const [id, document] of indexed) {
        const want = expected.get(id);
        if (want === undefined) drift.orphans += 1;
        else if (want !== canonical(document)) drift.stale += 1;
        else continue;
        suspects.push(id);
      }
      for (const id of expected.keys()) {
        if (!indexed.has(id)) {
          drift.missing += 1;
          suspects.push(id);
        }
      }
      drift.checked += Math.max(indexed.size, expected.size);
    }
    if (suspects.length > 0 && options.repair !== false) {
      await this.#pool.query('INSERT INTO search_outbox (product_id) SELECT unnest($1::bigint[])', [suspects]);
      await this.#pool.query(`SELECT pg_notify('search_outbox', '')`);
    }
    this.#options.log.info({ index: this.indexUid, ...drift }, 'search index reconciled');
    return drift;
  }

  async #fetchRange(from: number, to: number): Promise<Map<number, ProductDocument>> {
    const index = this.#client.index<ProductDocument>(this.indexUid);
    const found = new Map<number, ProductDocument>();
    const limit = 1_000;
    for (let offset = 0; ; offset += limit) {
      const page = await index.httpRequest.post<{ results: ProductDocument[]; total: number }>({
        path: `indexes/${this.indexUid}/documents/fetch`,
        body: { filter: `id >= ${from} AND id < ${to}`, limit, offset },
      });
      for (const document of page.results) found.set(document.id, document);
      if (page.results.length < limit) return found;
    }
  }

  /** How far the index is behind the database: the age of the oldest change not yet indexed. */
  async lagMs(): Promise<number> {
    const { rows } = await this.#pool.query<{ lag: number }>(
      `SELECT coalesce((SELECT extract(epoch FROM clock_timestamp() - enqueued_at) * 1000
                          FROM search_outbox ORDER BY id LIMIT 1), 0)::int AS lag`,
    );
    return rows[0]?.lag ?? 0;
  }
}

/** A document as text with its keys in order, to compare the index's copy with the database's. */
function canonical(document: ProductDocument): string {
  return JSON.stringify(Object.fromEntries(Object.entries(document).sort(([a], [b]) => a.localeCompare(b))));
}
