import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { invalidParam } from '../http/problem.ts';

/**
 * Opaque keyset cursors. A cursor carries the sort key of the row it points past, the direction,
 * and a fingerprint of the sort and filters it was issued for, all signed with an HMAC: a forged,
 * edited or truncated cursor, or one replayed against other filters, is refused with a 400 rather
 * than silently answering a different page.
 */
export type Direction = 'after' | 'before';

export interface CursorPosition<K> {
  direction: Direction;
  key: K;
}

interface Payload {
  /** Format version, so a later change of format can refuse old cursors cleanly. */
  v: 1;
  d: Direction;
  k: unknown;
  f: string;
}

const SIGNATURE_BYTES = 16;

/** A short stable digest of the query a cursor belongs to (sort and filters, not the limit). */
export function fingerprint(query: unknown): string {
  return createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 12);
}

export class CursorCodec {
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
  }

  #sign(body: string): Buffer {
    return createHmac('sha256', this.#secret).update(body).digest().subarray(0, SIGNATURE_BYTES);
  }

  encode(position: CursorPosition<unknown>, queryFingerprint: string): string {
    const payload: Payload = { v: 1, d: position.direction, k: position.key, f: queryFingerprint };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.#sign(body).toString('base64url')}`;
  }

  /**
   * Verifies and decodes a cursor. `parseKey` checks the key's shape for the current sort and
   * returns undefined when it does not fit.
   */
  decode<K>(token: string, queryFingerprint: string, parseKey: (key: unknown) => K | undefined): CursorPosition<K> {
    const bad = (detail: string) => invalidParam({ in: 'query', name: 'cursor', detail });
    const [body, signature, ...rest] = token.split('.');
    if (!body || !signature || rest.length > 0) throw bad('is not a cursor issued by this API');
    const expected = this.#sign(body);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw bad('is not a cursor issued by this API (signature mismatch)');
    }
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      throw bad('is malformed');
    }
    if (payload?.v !== 1 || (payload.d !== 'after' && payload.d !== 'before')) throw bad('is malformed');
    if (payload.f !== queryFingerprint) {
      throw bad('was issued for a different sort or filters: start again without a cursor');
    }
    const key = parseKey(payload.k);
    if (key === undefined) throw bad('is malformed');
    return { direction: payload.d, key };
  }
}
