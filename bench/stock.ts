/**
 * Stock adjustments under load, side by side: through the API (50 concurrent clients, autocannon)
 * and the raw ceiling, the same transaction (the API's own statement: the conditional UPDATE and
 * the ledger INSERT, returning the movement) sent straight over a pg pool of the API's size by as
 * many concurrent workers, one statement per adjustment.
 * Both on random products and on one hot product, whose row lock serialises every change.
 * The API as configured coalesces concurrent adjustments into shared statements (group commit,
 * api/src/stock/coalescer.ts); the same load through `apiUrlUncoalesced` (a second API process
 * started with STOCK_COALESCE=off) is measured too, as a row without a target.
 */
import autocannon from 'autocannon';
import { PgDialect } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { adjustStatement } from '../api/src/stock/repository.ts';

/** The API's statement as drizzle sends it: its text, and its parameters in their places. */
const dialect = new PgDialect();

export interface StockFigures {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function raw(
  databaseUrl: string,
  poolSize: number,
  workers: number,
  seconds: number,
  pick: () => number,
  apiKeyId: number,
): Promise<{ tps: number; p50: number; p99: number; errors: number }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (performance.now() < deadline) {
          const started = performance.now();
          try {
            const { sql: text, params } = dialect.sqlToQuery(
              adjustStatement({ productId: pick(), delta: 1, reason: 'bench', actor: { apiKeyId } }),
            );
            await pool.query({ name: 'bench_adjust', text, values: params });
            latencies.push(performance.now() - started);
          } catch {
            errors += 1;
          }
        }
      }),
    );
  } finally {
    await pool.end();
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return { tps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors };
}

/** The API's ledger rows carry the variant in their reason (the raw ceiling's say `bench`). */
const COALESCED = 'bench-on';
const UNCOALESCED = 'bench-off';

async function api(
  apiUrl: string,
  apiKey: string,
  connections: number,
  seconds: number,
  pick: () => number,
  reason: string,
) {
  const body = JSON.stringify({ delta: 1, reason });
  const result = await autocannon({
    url: apiUrl,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, path: `/v1/products/${pick()}/stock-adjustments`, body }),
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

export async function benchStock(options: {
  apiUrl: string;
  /** The same API with STOCK_COALESCE=off: measured too, without a target. */
  apiUrlUncoalesced: string;
  apiKey: string;
  apiKeyId: number;
  databaseUrl: string;
  products: number;
  seconds: number;
  poolSize: number;
  log: (line: string) => void;
}): Promise<{ rows: StockFigures[]; ratios: { label: string; value: number; target?: number }[] }> {
  const clients = 50;
  const random = () => 1 + Math.floor(Math.random() * options.products);
  const hot = () => 1;
  const rows: StockFigures[] = [];
  const ratios = [];
  // How many statements the coalescing API's adjustments shared: the rows one transaction wrote
  // share its id (xmin). Read from the ledger rows written after `since`.
  const ledger = new pg.Pool({ connectionString: options.databaseUrl, max: 1 });
  const lastMovement = async () =>
    Number((await ledger.query<{ id: string }>('SELECT coalesce(max(id), 0) AS id FROM stock_movements')).rows[0]!.id);
  const statementsSince = async (since: number) =>
    (
      await ledger.query<{ rows: number; statements: number }>(
        `SELECT count(*)::int AS rows, count(DISTINCT xmin::text)::int AS statements
           FROM stock_movements WHERE id > $1 AND reason = $2`,
        [since, COALESCED],
      )
    ).rows[0]!;
  // API and raw alternate in short rounds, each warmed up first: whichever ran first would
  // otherwise pay alone for the cold pages (and the full-page writes after a checkpoint) that the
  // other then finds warm. Each side gets about `seconds` in all.
  const rounds = 4;
  const share = Math.max(1, Math.round(options.seconds / rounds));
  try {
    for (const [name, pick] of [
      ['random products', random],
      ['one hot product', hot],
    ] as const) {
      await api(options.apiUrl, options.apiKey, clients, 2, pick, COALESCED);
      await api(options.apiUrlUncoalesced, options.apiKey, clients, 2, pick, UNCOALESCED);
      await raw(options.databaseUrl, options.poolSize, clients, 2, pick, options.apiKeyId);
      const since = await lastMovement();
      const throughApi: Awaited<ReturnType<typeof api>>[] = [];
      const uncoalesced: Awaited<ReturnType<typeof api>>[] = [];
      const ceiling: Awaited<ReturnType<typeof raw>>[] = [];
      const measureApi = async () =>
        throughApi.push(await api(options.apiUrl, options.apiKey, clients, share, pick, COALESCED));
      const measureRaw = async () =>
        ceiling.push(await raw(options.databaseUrl, options.poolSize, clients, share, pick, options.apiKeyId));
      const measureUncoalesced = async () =>
        uncoalesced.push(await api(options.apiUrlUncoalesced, options.apiKey, clients, share, pick, UNCOALESCED));
      // ABBA order (ABC CBA with the uncoalesced API): a disturbance that drifts in (a checkpoint's
      // full-page writes) falls on each.
      const order = [measureApi, measureRaw, measureUncoalesced];
      for (let round = 0; round < rounds; round++) {
        for (const measure of round % 2 === 0 ? order : [...order].reverse()) await measure();
      }
      const shared = await statementsSince(since);
      const combined = (measured: { rate: number; p50: number; p99: number; errors: number }[]) => ({
        rps: measured.reduce((sum, m) => sum + m.rate, 0) / measured.length,
        p50: measured.map((m) => m.p50).sort((x, y) => x - y)[Math.floor(measured.length / 2)]!,
        p99: Math.max(...measured.map((m) => m.p99)),
        errors: measured.reduce((sum, m) => sum + m.errors, 0),
      });
      const apiFigures = combined(throughApi.map((m) => ({ ...m, rate: m.rps })));
      const rawFigures = combined(ceiling.map((m) => ({ ...m, rate: m.tps })));
      rows.push(
        { label: `stock adjustment via the API, ${name}`, ...apiFigures },
        { label: `raw SQL ceiling (same statement over pg), ${name}`, ...rawFigures },
      );
      const rates = (measured: { rps?: number; tps?: number }[]) =>
        measured.map((m) => Math.round(m.rps ?? m.tps ?? 0)).join(', ');
      options.log(
        `  stock, ${name}: API ${rates(throughApi)}/s; raw ${rates(ceiling)}/s; API uncoalesced ${rates(uncoalesced)}/s (${rounds} alternating rounds of ${share} s)`,
      );
      options.log(
        `  stock, ${name}: the coalescing API wrote ${shared.rows.toLocaleString('en')} ledger rows in ${shared.statements.toLocaleString('en')} statements (${(shared.rows / Math.max(1, shared.statements)).toFixed(1)} a statement)`,
      );
      ratios.push({
        label: `stock adjustments API / raw SQL, ${name}`,
        value: apiFigures.rps / rawFigures.rps,
        target: 0.7,
      });
      const uncoalescedFigures = combined(uncoalesced.map((m) => ({ ...m, rate: m.rps })));
      rows.push({ label: `stock adjustment via the API, STOCK_COALESCE=off, ${name}`, ...uncoalescedFigures });
      ratios.push({
        label: `stock adjustments API with STOCK_COALESCE=off / raw SQL, ${name}`,
        value: uncoalescedFigures.rps / rawFigures.rps,
      });
    }
  } finally {
    await ledger.end();
  }
  return { rows, ratios };
}
