/**
 * Stock adjustments under load, side by side: through the API (50 concurrent clients, autocannon)
 * and the raw ceiling, the same transaction (the conditional UPDATE and the ledger INSERT, one
 * statement) sent straight over a pg pool of the API's size by as many concurrent workers.
 * Both on random products and on one hot product, whose row lock serialises every change.
 */
import autocannon from 'autocannon';
import pg from 'pg';

export interface StockFigures {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const RAW_ADJUST = `
  WITH changed AS (
    UPDATE products SET stock = stock + $2 WHERE id = $1 AND stock + $2 >= 0 RETURNING id, stock
  )
  INSERT INTO stock_movements (product_id, delta, reason, stock_after, api_key_id)
  SELECT id, $2, 'bench', stock, $3 FROM changed`;

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
            await pool.query({ name: 'bench_adjust', text: RAW_ADJUST, values: [pick(), 1, apiKeyId] });
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

async function api(apiUrl: string, apiKey: string, connections: number, seconds: number, pick: () => number) {
  const body = JSON.stringify({ delta: 1, reason: 'bench' });
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
  apiKey: string;
  apiKeyId: number;
  databaseUrl: string;
  products: number;
  seconds: number;
  poolSize: number;
  log: (line: string) => void;
}): Promise<{ rows: StockFigures[]; ratios: { label: string; value: number; target: number }[] }> {
  const clients = 50;
  const random = () => 1 + Math.floor(Math.random() * options.products);
  const hot = () => 1;
  const rows: StockFigures[] = [];
  const ratios = [];
  for (const [name, pick] of [
    ['random products', random],
    ['one hot product', hot],
  ] as const) {
    // Warm-up, not recorded.
    await api(options.apiUrl, options.apiKey, clients, 2, pick);
    const throughApi = await api(options.apiUrl, options.apiKey, clients, options.seconds, pick);
    const ceiling = await raw(options.databaseUrl, options.poolSize, clients, options.seconds, pick, options.apiKeyId);
    rows.push(
      { label: `stock adjustment via the API, ${name}`, ...throughApi },
      {
        label: `raw SQL ceiling (same statement over pg), ${name}`,
        rps: ceiling.tps,
        p50: ceiling.p50,
        p99: ceiling.p99,
        errors: ceiling.errors,
      },
    );
    options.log(`  stock, ${name}: API ${Math.round(throughApi.rps)}/s, raw ${Math.round(ceiling.tps)}/s`);
    ratios.push({
      label: `stock adjustments API / raw SQL, ${name}`,
      value: throughApi.rps / ceiling.tps,
      target: 0.7,
    });
  }
  return { rows, ratios };
}
