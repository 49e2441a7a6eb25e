/**
 * Loads the demo catalogue into the database at DATABASE_URL (migrating it first):
 *
 *   node --import tsx api/src/cli/seed.ts [--products N] [--seed S]
 *
 * --products defaults to SEED_PRODUCTS, else 10000; --seed to the generator's fixed seed.
 */
import { parseArgs } from 'node:util';
import { createDatabase, migrateDatabase } from '../db/database.ts';
import { seedCatalogue } from '../seed/load.ts';

function nonNegativeInteger(name: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

function readOptions(): { url: string; products: number; seed?: number } {
  const { values } = parseArgs({ options: { products: { type: 'string' }, seed: { type: 'string' } } });
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: it must name the PostgreSQL database to seed');
  const products = values.products ?? (process.env.SEED_PRODUCTS || '10000');
  return {
    url,
    products: nonNegativeInteger(values.products === undefined ? 'SEED_PRODUCTS' : '--products', products),
    seed: values.seed === undefined ? undefined : nonNegativeInteger('--seed', values.seed),
  };
}

const formatCount = (n: number) => Math.round(n).toLocaleString('en-US');

function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** One line on stderr, redrawn in place; a pipe or a log file gets nothing from it. */
function progressBar(started: number): (done: number, total: number) => void {
  return (done, total) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    const fraction = total === 0 ? 1 : done / total;
    const width = 30;
    const filled = Math.round(fraction * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    // After the last row come index builds and ANALYZE, which report no progress of their own.
    const tail = done < total ? `ETA ${formatDuration((total - done) / rate)}` : 'indexing and analysing…';
    const line = `[${bar}] ${(fraction * 100).toFixed(1).padStart(5)}%  ${formatCount(rate)} rows/s  ${tail}`;
    process.stderr.write(`\r${line}\x1b[K`);
  };
}

async function main(): Promise<void> {
  const { url, products, seed } = readOptions();
  const database = createDatabase(url, { poolSize: 2, applicationName: 'catalogue-seed' });
  try {
    await migrateDatabase(database);
    const started = performance.now();
    const onProgress = process.stderr.isTTY ? progressBar(started) : undefined;
    const result = await seedCatalogue(database.pool, { products, seed, onProgress });
    if (onProgress) process.stderr.write('\r\x1b[K');
    const seconds = result.ms / 1000;
    console.log(
      `seeded ${formatCount(result.products)} products in ${result.categories} categories in ` +
        `${seconds.toFixed(1)} s (${formatCount(result.products / Math.max(seconds, 0.001))} rows/s)`,
    );
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  // A refused connection is an AggregateError with an empty message: its parts say what failed.
  const parts = error instanceof AggregateError ? error.errors : [error];
  const message = parts.map((part) => (part instanceof Error ? part.message : String(part))).join('; ');
  console.error(`seed failed: ${message}`);
  process.exitCode = 1;
});
