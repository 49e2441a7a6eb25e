import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { versionTag } from './conditional.ts';
import { HttpProblem, invalidParam, PROBLEM_CONTENT_TYPE, type Problem } from './problem.ts';

/**
 * POST with an `Idempotency-Key` header: the first request's answer is stored in the same
 * transaction as its change, and a retry with the same key and the same request gets that answer
 * again and changes nothing more; the same key with another request is a 422. A retry arriving
 * while the first is still running waits for it (on the key's unique index), then replays it.
 * Answers are kept at least 24 hours; refusals (4xx) are kept too, failures (5xx) are not.
 */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** Where a change runs: a transaction, or the database itself for a single statement. */
export type Executor = Db | Tx;

/** The answer to a request: its status and body (a problem for a refusal). */
export interface Answer<T> {
  status: number;
  body: T | Problem;
  /** True when this is the stored answer of an earlier request. */
  replayed: boolean;
}

/** An answer as the work gives it, before it is known to be first or replayed. */
export type Given<T> = Omit<Answer<T>, 'replayed'>;

/** An answer kept in idempotency_keys, with the hash of the request that got it. */
export type StoredAnswer = {
  request_hash: string;
  status_code: number;
  response_body: unknown;
};

const KEY = /^[\x21-\x7e]{1,255}$/;

export function idempotencyKey(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY.test(header)) {
    throw invalidParam({
      in: 'header',
      name: 'Idempotency-Key',
      detail: 'must be 1 to 255 printable ASCII characters',
    });
  }
  return header;
}

/** The same Idempotency-Key with another request (422). */
export const idempotencyKeyReused = () =>
  new HttpProblem(
    422,
    'idempotency-key-reused',
    'Idempotency key reused',
    'This Idempotency-Key was used with a different request. Use a new key for a new request.',
  );

/** A retry's answer: the stored one if the request is the same (by its hash), else a 422. */
export function replay<T>(stored: StoredAnswer, hash: string): Answer<T> {
  if (stored.request_hash !== hash) throw idempotencyKeyReused();
  return { status: stored.status_code, body: stored.response_body as T | Problem, replayed: true };
}

/** The answer of `run`: what it returns, or the refusal (an HttpProblem below 500) it throws. */
export async function settle<T>(run: () => Promise<Given<T>>, toProblem: (error: HttpProblem) => Problem) {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof HttpProblem) || error.status >= 500) throw error;
    return { status: error.status, body: toProblem(error) };
  }
}

function requestHash(request: FastifyRequest): string {
  return createHash('sha256')
    .update(`${request.method} ${request.url.split('?')[0]}\n${JSON.stringify(request.body ?? null)}`)
    .digest('hex');
}

/**
 * Runs `work` once per idempotency key, in a transaction with the stored answer. Without a key it
 * runs in a transaction of its own, or on the database itself with `transaction: false` (work
 * whose statements each stand alone). `work` answers with a status and body; an HttpProblem it
 * throws below 500 is an answer too (its writes, if any, are rolled back).
 */
export async function runIdempotent<T>(
  db: Db,
  request: FastifyRequest,
  apiKeyId: number,
  work: (executor: Executor) => Promise<Given<T>>,
  toProblem: (error: HttpProblem) => Problem,
  { transaction = true }: { transaction?: boolean } = {},
): Promise<Answer<T>> {
  const key = idempotencyKey(request);
  if (key === undefined) {
    // Statements that stand alone need no transaction: each round trip saved is throughput.
    const answer = await settle(() => (transaction ? db.transaction((tx) => work(tx)) : work(db)), toProblem);
    return { ...answer, replayed: false };
  }
  return db.transaction(async (tx) => {
    const hash = requestHash(request);
    const claimed = await tx.execute(sql`
      INSERT INTO idempotency_keys (api_key_id, key, request_hash, status_code, response_body)
      VALUES (${apiKeyId}, ${key}, ${hash}, 0, 'null'::jsonb)
      ON CONFLICT DO NOTHING`);
    if (claimed.rowCount === 0) {
      const { rows } = await tx.execute<StoredAnswer>(sql`
        SELECT request_hash, status_code, response_body FROM idempotency_keys
        WHERE api_key_id = ${apiKeyId} AND key = ${key}`);
      return replay<T>(rows[0]!, hash);
    }
    // In a savepoint: a refusal rolls back the work's writes but keeps the key and its answer.
    const answer = await settle(() => tx.transaction((savepoint) => work(savepoint)), toProblem);
    await tx.execute(sql`
      UPDATE idempotency_keys SET status_code = ${answer.status}, response_body = ${JSON.stringify(answer.body)}::jsonb
      WHERE api_key_id = ${apiKeyId} AND key = ${key}`);
    return { ...answer, replayed: false };
  });
}

/**
 * Sends an answer, given now or replayed, the same way every time: its status and body; a refusal
 * as problem+json; a versioned resource (a body with a `version`: a product, a stock change) with
 * its ETag; a replay marked `Idempotent-Replayed: true`. The one way stock, batches, imports and
 * product writes answer (draft-ietf-httpapi-idempotency-key-header).
 */
export function sendAnswer<T>(reply: FastifyReply, answer: Answer<T>) {
  if (answer.replayed) reply.header('idempotent-replayed', 'true');
  if (answer.status >= 400) return reply.code(answer.status).type(PROBLEM_CONTENT_TYPE).send(answer.body);
  const { version } = answer.body as { version?: unknown };
  if (typeof version === 'number') reply.header('etag', versionTag(version));
  return reply.code(answer.status).send(answer.body);
}

/** Forgets answers older than a day (the promise is "at least 24 hours"). */
export async function expireIdempotencyKeys(db: Db): Promise<number> {
  const result = await db.execute(sql`DELETE FROM idempotency_keys WHERE created_at < now() - interval '25 hours'`);
  return result.rowCount ?? 0;
}
