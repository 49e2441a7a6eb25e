import type pg from 'pg';
import { seedCatalogue } from './load.ts';

/** Arbitrary constant: two processes starting at once on one database seed it once. */
const SEED_LOCK = 727_002;

/**
 * Seeds the demo catalogue when the database has no categories yet (a first start), and does
 * nothing otherwise, so a restart keeps the data, and a shop that deleted its demo products does
 * not get them back.
 */
export async function seedIfEmpty(
  pool: pg.Pool,
  { products, log }: { products: number; log: { info(obj: object, msg: string): void } },
): Promise<{ categories: number; products: number; ms: number } | undefined> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [SEED_LOCK]);
    const { rows } = await client.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM categories) AS empty');
    if (!rows[0]?.empty) return undefined;
    log.info({ products }, 'first start: seeding the demo catalogue');
    return await seedCatalogue(pool, { products });
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [SEED_LOCK]).catch(() => undefined);
    client.release();
  }
}
