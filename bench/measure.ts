import { createRequire } from 'node:module';
import autocannon from 'autocannon';

/**
 * autocannon keeps each response's body as a string (`body += chunk`, decoding it as UTF-8),
 * though no scenario here reads it (no `expectBody`, `verifyBody` or `onResponse`): on two shared
 * cores that made the client the bottleneck, and one that depends on the bytes. A bare Node server
 * sending a listing page's 29 KB served 13,000 requests/s to it, 25,000 when the same length was
 * all ASCII, 40,000 with bodies counted but not kept; a Brotli body (binary) cost it the most. So
 * bodies are counted (autocannon counts bytes elsewhere), not kept, for every scenario of the
 * bench: the process imports this module before any measure.
 */
const PipelinedRequestsQueue = createRequire(import.meta.url)('autocannon/lib/pipelinedRequestsQueue.js') as {
  prototype: { addBody: (data: Buffer) => void };
};
PipelinedRequestsQueue.prototype.addBody = () => {};

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
