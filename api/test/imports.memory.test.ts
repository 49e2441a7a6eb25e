import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postStream } from './support/http.ts';
import { freePort, startNode, waitFor, type Running } from '@catalogue/testing/process';
import { testApp, testDatabase, type TestDatabase } from './support/database.ts';
import { insertTree } from './support/fixtures.ts';

/** Resident memory of a process from /proc, in bytes: now (VmRSS) or its high-water mark (VmHWM). */
async function memory(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
}

const ROWS = 60_000;
/** A long description makes the body large (about 140 MB) while the row count keeps the test short. */
const DESCRIPTION = 'Stitched by hand, waterproof, and tested in the rain. '.repeat(40);

/**
 * The import streams: the real API server, in its own process with its JavaScript heap capped at
 * 96 MB, imports a body of about 140 MB. Were the body buffered (as text or parsed rows), the
 * capped heap would run out and the process die; were it held as Buffers outside the heap, the
 * process's peak resident memory would grow by the body's size. Neither happens.
 */
describe('import memory (real server process, capped heap)', () => {
  let database: TestDatabase;
  let server: Running;
  let base: string;
  let key: string;

  beforeAll(async () => {
    database = await testDatabase();
    await insertTree(database);
    key = (await (await testApp(database)).keys.create('memory', ['catalog:write'])).secret;
    const port = await freePort();
    server = startNode(['--max-old-space-size=96', '--import', 'tsx', 'api/src/server.ts'], {
      DATABASE_URL: database.url,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/readyz`, 60_000, server);
  });
  afterAll(async () => {
    if (server?.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it(`imports ${ROWS.toLocaleString('en')} rows (a body of about 140 MB) with memory that does not follow the body`, async () => {
    const pid = server.child.pid!;
    const before = await memory(pid, 'VmRSS');
    // Resets the high-water mark to the current resident size (Linux, proc(5) clear_refs).
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    let bodyBytes = 0;
    async function* body() {
      for (let start = 0; start < ROWS; start += 500) {
        let chunk = '';
        for (let i = start; i < start + 500; i++) {
          chunk += `${JSON.stringify({
            sku: `MEM-${i}`,
            slug: `mem-${i}`,
            name: `Memory ${i}`,
            description: DESCRIPTION,
            category: 'running',
            price: { amount: 1000 + i, currency: 'EUR' },
            status: 'active',
            stock: i % 7,
          })}\n`;
        }
        bodyBytes += Buffer.byteLength(chunk);
        yield chunk;
      }
    }
    const answer = await postStream(
      `${base}/v1/imports/products`,
      { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
      body(),
    );
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ created: ROWS, rejected: 0 });
    const growth = (await memory(pid, 'VmHWM')) - before;
    console.log(
      `import of ${(bodyBytes / 1_048_576).toFixed(0)} MB: peak resident memory grew by ${(growth / 1_048_576).toFixed(0)} MB (from ${(before / 1_048_576).toFixed(0)} MB)`,
    );
    expect(bodyBytes).toBeGreaterThan(120 * 1_048_576);
    expect(growth).toBeLessThan(bodyBytes / 3);
    const { rows } = await database.pool.query(`SELECT count(*)::int AS n FROM products WHERE sku LIKE 'MEM-%'`);
    expect(rows[0].n).toBe(ROWS);
  });
});
