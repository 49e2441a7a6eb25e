import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearerToken } from '../auth/keys.ts';
import type { CatalogueMetrics } from './metrics.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** True when the Authorization header carries `token` (both sides hashed: constant time, whatever the lengths). */
export function holdsToken(authorization: string | undefined, token: string): boolean {
  const given = bearerToken(authorization ?? '');
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `GET /metrics` for a process that serves no HTTP of its own (the separate indexer,
 * `npm run -s indexer` with METRICS_PORT): the same exposition and the same token as the API's.
 * Anything else is a 404; a scrape without the token a 401.
 */
export async function startMetricsServer(
  metrics: CatalogueMetrics,
  { token, host, port }: { token: string; host: string; port: number },
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (!holdsToken(request.headers.authorization, token)) {
      response
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' })
        .end('Metrics need the metrics token: Authorization: Bearer <METRICS_TOKEN>.\n');
      return;
    }
    metrics.scrape().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
