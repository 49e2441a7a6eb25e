import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/database.ts';
import { apiKeys, type Scope } from '../db/schema.ts';

/**
 * API keys look like `cat_<prefix>_<secret>`: the prefix (8 characters) names the key and may be
 * shown and logged; the secret (256 random bits) is shown once, at creation, and only its SHA-256
 * is stored. Verification compares hashes in constant time.
 */
const KEY = /^cat_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  id: number;
  name: string;
  prefix: string;
  scopes: Scope[];
  /** The whole key, to hand to its owner once. */
  secret: string;
}

export interface VerifiedKey {
  id: number;
  name: string;
  prefix: string;
  scopes: Scope[];
}

export interface KeySummary extends VerifiedKey {
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The token of an `Authorization: Bearer <token>` header (RFC 6750), or undefined when malformed. */
export function bearerToken(header: string): string | undefined {
  const [scheme, token, ...rest] = header.split(' ');
  return scheme?.toLowerCase() === 'bearer' && token && rest.length === 0 ? token : undefined;
}

export function parseKey(key: string): { prefix: string; secret: string } | undefined {
  const match = KEY.exec(key);
  return match ? { prefix: match[1]!, secret: match[2]! } : undefined;
}

/** `last_used_at` is written at most once a minute per key and process, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * A verified key is remembered this long, so that a busy integration does not cost a lookup per
 * request. Revoking through this process forgets it at once; a key revoked elsewhere (the keys
 * command, another API instance) stops working within this delay.
 */
export const VERIFIED_KEY_TTL_MS = 2_000;
const MAX_REMEMBERED = 10_000;

export class KeyRepository {
  readonly #db: Db;
  /**
   * Answers by whole key, refusals too (a made-up key stays made up): `key` undefined means
   * refused. Concurrent requests with the same key share one lookup.
   */
  readonly #verified: LRUCache<string, { key: VerifiedKey | undefined }>;
  readonly #lastUsedWritten = new Map<number, number>();

  constructor(db: Db) {
    this.#db = db;
    this.#verified = new LRUCache({
      max: MAX_REMEMBERED,
      ttl: VERIFIED_KEY_TTL_MS,
      fetchMethod: async (key) => ({ key: await this.#lookup(key) }),
    });
  }

  async create(name: string, scopes: Scope[]): Promise<NewKey> {
    const prefix = randomBytes(8)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '0')
      .slice(0, 8);
    const secret = randomBytes(32).toString('base64url');
    const [row] = await this.#db
      .insert(apiKeys)
      .values({ name, prefix, secretHash: sha256(secret), scopes: [...new Set(scopes)] })
      .returning({ id: apiKeys.id, scopes: apiKeys.scopes });
    return { id: row!.id, name, prefix, scopes: row!.scopes, secret: `cat_${prefix}_${secret}` };
  }

  /** The key's identity when it is well formed, known, and not revoked; otherwise undefined. */
  async verify(key: string): Promise<VerifiedKey | undefined> {
    const verified = (await this.#verified.fetch(key))?.key;
    if (verified) this.#touch(verified.id);
    return verified;
  }

  /** Records use, at most once a minute per key; a lost write only makes last_used_at older. */
  #touch(id: number) {
    const now = Date.now();
    if (now - (this.#lastUsedWritten.get(id) ?? 0) < LAST_USED_RESOLUTION_MS) return;
    this.#lastUsedWritten.set(id, now);
    void this.#db
      .update(apiKeys)
      .set({ lastUsedAt: sql`now()` })
      .where(eq(apiKeys.id, id))
      .catch(() => undefined);
  }

  async #lookup(key: string): Promise<VerifiedKey | undefined> {
    const parsed = parseKey(key);
    if (!parsed) return undefined;
    const [row] = await this.#db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scopes: apiKeys.scopes,
        secretHash: apiKeys.secretHash,
      })
      .from(apiKeys)
      .where(and(eq(apiKeys.prefix, parsed.prefix), isNull(apiKeys.revokedAt)));
    // Hash even when no row matched, so a wrong prefix takes as long as a wrong secret.
    const given = Buffer.from(sha256(parsed.secret), 'hex');
    const expected = Buffer.from(row?.secretHash ?? sha256(''), 'hex');
    if (!row || !timingSafeEqual(given, expected)) return undefined;
    return { id: row.id, name: row.name, prefix: row.prefix, scopes: row.scopes };
  }

  async list(): Promise<KeySummary[]> {
    return this.#db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scopes: apiKeys.scopes,
        createdAt: apiKeys.createdAt,
        lastUsedAt: apiKeys.lastUsedAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .orderBy(asc(apiKeys.id));
  }

  /** Revokes by id or prefix; true when a key that was active is now revoked. */
  async revoke(idOrPrefix: number | string): Promise<boolean> {
    const rows = await this.#db
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(
        and(
          typeof idOrPrefix === 'number' ? eq(apiKeys.id, idOrPrefix) : eq(apiKeys.prefix, idOrPrefix),
          isNull(apiKeys.revokedAt),
        ),
      )
      .returning({ id: apiKeys.id });
    const revoked = new Set(rows.map((row) => row.id));
    const forgotten = [...this.#verified.entries()].filter(([, { key }]) => key && revoked.has(key.id));
    for (const [key] of forgotten) this.#verified.delete(key);
    return rows.length > 0;
  }

  async count(): Promise<number> {
    const [row] = await this.#db.select({ n: sql<number>`count(*)::int` }).from(apiKeys);
    return row!.n;
  }
}
