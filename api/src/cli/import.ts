/**
 * `npm run import -- FILE [--atomic]`: imports products from a local .ndjson (or .jsonl) or .csv
 * file into the database at DATABASE_URL, or into the embedded one under DATA_DIR, with the same
 * code as POST /v1/imports/products (not over HTTP). A progress bar on stderr when it is a
 * terminal; the report on stdout: a summary line, then one line per listed rejected row.
 *
 * Exit code: 0 when every row was imported, 2 when some were rejected (with --atomic: nothing
 * was written), 1 on failure, 64 on a usage error.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { CategoryRepository } from '../catalogue/category-tree.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { HttpProblem } from '../http/problem.ts';
import { importProducts, limitBytes } from '../imports/importer.ts';
import type { ImportFormat } from '../imports/rows.ts';
import { openRuntime } from '../runtime.ts';

const USAGE = 'usage: npm run import -- FILE.ndjson|FILE.csv [--atomic]';

const FORMATS: Record<string, ImportFormat> = { '.ndjson': 'ndjson', '.jsonl': 'ndjson', '.csv': 'csv' };

class UsageError extends Error {}

/** One line on stderr, redrawn at most ten times a second: bytes read of the file, rows/s. */
function progressBar(totalBytes: number) {
  const tty = process.stderr.isTTY;
  const started = performance.now();
  let bytes = 0;
  let rows = 0;
  let drawn = 0;
  const draw = (force = false) => {
    const now = performance.now();
    if (!tty || (!force && now - drawn < 100)) return;
    drawn = now;
    const share = totalBytes > 0 ? Math.min(1, bytes / totalBytes) : 1;
    const width = 30;
    const filled = Math.round(share * width);
    const rate = rows / Math.max((now - started) / 1000, 0.001);
    const mb = (n: number) => (n / 1_048_576).toFixed(1);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0)}% ${mb(bytes)}/${mb(totalBytes)} MB, ${rows.toLocaleString('en')} rows, ${Math.round(rate).toLocaleString('en')} rows/s `,
    );
  };
  return {
    bytes(n: number) {
      bytes = n;
      draw();
    },
    rows(n: number) {
      rows = n;
      draw();
    },
    end() {
      draw(true);
      if (tty) process.stderr.write('\n');
    },
  };
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { atomic: { type: 'boolean', default: false } },
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError(USAGE);
  const format = FORMATS[extname(file).toLowerCase()];
  if (!format) throw new UsageError(`${file}: the format comes from the extension (.ndjson, .jsonl or .csv)\n${USAGE}`);
  const size = await stat(file).then(
    (stats) => stats.size,
    (error: NodeJS.ErrnoException) => {
      throw new UsageError(`${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
    },
  );

  const runtime = await openRuntime(loadConfig(), {
    info: () => undefined,
    warn: console.error,
    debug: () => undefined,
  });
  try {
    const categories = new CategoryRepository(runtime.database.db);
    const progress = progressBar(size);
    const started = performance.now();
    const { report, committed } = await importProducts(
      runtime.database.pool,
      limitBytes(createReadStream(file), Number.POSITIVE_INFINITY, progress.bytes),
      {
        format,
        atomic: values.atomic,
        apiKeyId: null,
        categories: () => categories.tree(),
        onProgress: progress.rows,
        onBatchError: (error) => console.error(`a batch was rejected: ${(error as Error).message}`),
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const rows = report.created + report.updated + report.unchanged + report.rejected;
    // The last row of a file without a final newline is counted only at its end.
    progress.rows(rows);
    progress.end();
    console.log(
      `${rows.toLocaleString('en')} rows in ${seconds.toFixed(1)} s: created ${report.created}, updated ${report.updated}, unchanged ${report.unchanged}, rejected ${report.rejected}${committed ? '' : ' (--atomic: nothing was written)'}`,
    );
    for (const error of report.errors) {
      console.log(`line ${error.line}${error.sku ? ` (${error.sku})` : ''}: ${error.reason}`);
    }
    if (report.errors_truncated) console.log(`… and ${report.rejected - report.errors.length} more rejected rows`);
    process.exitCode = report.rejected > 0 ? 2 : 0;
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  const known = error instanceof UsageError || error instanceof ConfigError || error instanceof HttpProblem;
  console.error(known ? (error as Error).message : error);
  process.exitCode = error instanceof UsageError ? 64 : 1;
});
