import type pg from 'pg';
import { CatalogueNotEmptyError, seedCatalogue, type SeedResult } from './load.ts';

/**
 * Seeds the demo catalogue when the database has no categories yet (a first start), and does
 * nothing otherwise, so a restart keeps the data, and a shop that deleted its demo products does
 * not get them back. Two processes starting at once seed once: seedCatalogue locks the categories
 * table and refuses a non-empty catalogue, which the second one takes as "already seeded".
 */
export async function seedIfEmpty(
  pool: pg.Pool,
  { products, log }: { products: number; log: { info(obj: object, msg: string): void } },
): Promise<SeedResult | undefined> {
  const { rows } = await pool.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM categories) AS empty');
  if (!rows[0]?.empty) return undefined;
  log.info({ products }, 'first start: seeding the demo catalogue');
  try {
    return await seedCatalogue(pool, { products });
  } catch (error) {
    if (error instanceof CatalogueNotEmptyError) return undefined;
    throw error;
  }
}
