import { createHash, type Hash } from 'node:crypto';
import type pg from 'pg';
import { replay, type Answer, type Given, type StoredAnswer } from '../http/idempotency.ts';

/** An answer of the import route: its status and body (the report, or the atomic refusal). */
export type ImportAnswer = Given<unknown>;

/** Passes a body through while hashing it; `complete` tells whether it was read to its end. */
export class HashingBody {
  readonly #hash: Hash;
  complete = false;

  constructor(fingerprint: string) {
    this.#hash = createHash('sha256').update(`${fingerprint}\n`);
  }

  async *read(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.#hash.update(chunk);
      yield chunk;
    }
    this.complete = true;
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/**
 * Runs work for one name at a time, in arrival order, within this process. Imports with the same
 * key queue here without holding a database connection: waiting on the advisory lock instead,
 * each would hold one, and enough of them would starve the pool of the one the first needs.
 */
export class OneAtATime {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(name: string, work: () => Promise<T>): Promise<T> {
    const current = (this.#tails.get(name) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.#tails.set(name, current);
    try {
      return await current;
    } finally {
      if (this.#tails.get(name) === current) this.#tails.delete(name);
    }
  }
}

/** The advisory lock of one key: 64 bits of its SHA-256 (a collision only makes two imports wait in turn). */
function lockOf(apiKeyId: number, key: string): string {
  return createHash('sha256').update(`import ${apiKeyId} ${key}`).digest().readBigInt64BE().toString();
}

/**
 * `Idempotency-Key` for an import, whose writes commit batch by batch and so cannot share one
 * transaction with the key (the single-transaction routes use http/idempotency.ts). On the
 * import's own connection, one for the whole request (two could starve the pool):
 *  - a session advisory lock on the key: a retry arriving meanwhile at another API process waits
 *    for the first to end (in the same process, the caller queues retries: OneAtATime);
 *  - a stored answer for the key: the retry reads its body to hash it, and gets that answer
 *    again (the same body) or a 422 (another body), and writes nothing;
 *  - otherwise the import runs, and an answer given after the whole body was read (the report,
 *    or the atomic 422) is stored with the body's SHA-256, kept at least 24 hours;
 *  - an answer given before the body's end (a bad CSV header, a body too large) or a failure is
 *    not stored: a retry runs again, gets the same answer and changes nothing more, since an
 *    import is an upsert and writes nothing for an unchanged row. The same holds if the process
 *    dies after the last batch but before the answer is stored: the retry reports those rows as
 *    unchanged, an answer the first client never received.
 */
export async function importOnce(
  client: pg.PoolClient,
  apiKeyId: number,
  key: string,
  fingerprint: string,
  source: AsyncIterable<Buffer>,
  run: (body: AsyncIterable<Buffer>) => Promise<ImportAnswer>,
): Promise<Answer<unknown>> {
  const lock = lockOf(apiKeyId, key);
  const body = new HashingBody(fingerprint);
  await client.query('SELECT pg_advisory_lock($1::bigint)', [lock]);
  try {
    const { rows } = await client.query<StoredAnswer>(
      'SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE api_key_id = $1 AND key = $2',
      [apiKeyId, key],
    );
    const stored = rows[0];
    if (stored) {
      for await (const _chunk of body.read(source)); // hashed, and nothing else
      return replay(stored, body.digest());
    }
    const answer = await run(body.read(source));
    if (body.complete) {
      await client.query(
        `INSERT INTO idempotency_keys (api_key_id, key, request_hash, status_code, response_body)
         VALUES ($1, $2, $3, $4, $5)`,
        [apiKeyId, key, body.digest(), answer.status, JSON.stringify(answer.body)],
      );
    }
    return { ...answer, replayed: false };
  } finally {
    // A connection too broken to unlock is discarded by its caller, which ends the lock with it.
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [lock]).catch(() => undefined);
  }
}
