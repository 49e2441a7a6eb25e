import autocannon from 'autocannon';

/** One scenario's figures from autocannon. */
export interface Measured {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Measures a URL with autocannon after a short warm-up (JIT, caches), not recorded; logs a line. */
export async function measureUrl(
  name: string,
  url: string,
  {
    connections,
    duration,
    log,
    headers = {},
  }: { connections: number; duration: number; log: (line: string) => void; headers?: Record<string, string> },
): Promise<Measured> {
  await autocannon({ url, connections, duration: Math.min(2, duration), headers });
  const result = await autocannon({ url, connections, duration, headers });
  const measured = {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
  log(`  ${name}: ${Math.round(measured.rps)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms`);
  return measured;
}
