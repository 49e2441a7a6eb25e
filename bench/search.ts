/**
 * Search latency, side by side: `GET /v1/search` (PostgreSQL engine, facets always computed)
 * against the naive baseline, `websearch_to_tsquery` with `ts_rank` over every match, ordered by
 * rank (no facets), over the same query mix: common words matching 10,000 to 400,000 products,
 * rare words, typos, prefixes, several words, with and without filters. Each query runs
 * `rounds` times from `clients` concurrent clients, then from one client (one query at a time);
 * p50 and p95 over all of them.
 */
import pg from 'pg';

export const QUERY_MIX = [
  'kettle',
  'handmade',
  'wireless',
  'the',
  'pro',
  'shoe',
  'running shoes',
  'gooseneck kettle',
  'ketle',
  'trail runer',
  'wirelss earbuds',
  'sta',
  'bla',
  'docking station',
  'cafetiere',
  'kettle&in_stock=true',
  'shoe&max_price=5000',
  'wireless&category=electronics',
];

export interface SearchFigures {
  label: string;
  p50: number;
  p95: number;
  requests: number;
  errors: number;
  /** Each query's median latency (ms), slowest first. */
  byQuery: { query: string; median: number }[];
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function timed(clients: number, rounds: number, run: (query: string) => Promise<boolean>) {
  const latencies: number[] = [];
  const byQuery = new Map<string, number[]>();
  let errors = 0;
  const queue = Array.from({ length: rounds }, () => QUERY_MIX).flat();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let query = queue.shift(); query !== undefined; query = queue.shift()) {
        const started = performance.now();
        const ok = await run(query).catch(() => false);
        const ms = performance.now() - started;
        if (ok) {
          latencies.push(ms);
          byQuery.set(query, [...(byQuery.get(query) ?? []), ms]);
        } else errors += 1;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const medians = [...byQuery].map(([query, times]) => ({
    query,
    median: percentile(
      times.sort((a, b) => a - b),
      0.5,
    ),
  }));
  return {
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    requests: latencies.length,
    errors,
    byQuery: medians.sort((a, b) => b.median - a.median),
  };
}

const NAIVE = `
  SELECT id, ts_rank(doc, websearch_to_tsquery('catalog', $1)) AS rank
    FROM product_search WHERE doc @@ websearch_to_tsquery('catalog', $1)
   ORDER BY rank DESC LIMIT 24`;

export async function benchSearch(options: {
  apiUrl: string;
  databaseUrl: string;
  clients?: number;
  rounds?: number;
}): Promise<SearchFigures[]> {
  const { clients = 4, rounds = 5 } = options;
  // Warm-up, not recorded.
  for (const query of QUERY_MIX) await fetch(`${options.apiUrl}/v1/search?q=${query}`);
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: clients });
  const figures: SearchFigures[] = [];
  try {
    // The concurrent clients first (the figure the target is about), then one client alone.
    for (const n of clients === 1 ? [1] : [clients, 1]) {
      const who = n === 1 ? '1 client' : `${n} clients`;
      const api = await timed(n, rounds, async (query) => {
        const response = await fetch(`${options.apiUrl}/v1/search?q=${query}`);
        await response.arrayBuffer();
        return response.ok;
      });
      // The baseline takes the words alone (its filters would be other SQL).
      const naive = await timed(n, rounds, async (query) => {
        await pool.query(NAIVE, [decodeURIComponent(query.split('&')[0]!)]);
        return true;
      });
      figures.push(
        { label: `GET /v1/search, ${QUERY_MIX.length} queries × ${rounds}, ${who} (facets included)`, ...api },
        { label: `naive baseline: websearch_to_tsquery + ts_rank over every match (no facets), ${who}`, ...naive },
      );
    }
  } finally {
    await pool.end();
  }
  return figures;
}
