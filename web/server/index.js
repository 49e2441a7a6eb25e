/**
 * The storefront's server: `node web/server` (after `npm run build -w web`). adapter-node's
 * handler (web/build/handler.js) behind the page cache (page-cache.js, on responses it can hold:
 * page-response.js), in the documented way of a custom server
 * (https://svelte.dev/docs/kit/adapter-node#Custom-server). It takes what
 * adapter-node's own entry takes that this storefront uses: HOST, PORT, SHUTDOWN_TIMEOUT,
 * KEEP_ALIVE_TIMEOUT, HEADERS_TIMEOUT, and reads ORIGIN, PROTOCOL_HEADER, HOST_HEADER,
 * ADDRESS_HEADER, XFF_DEPTH and BODY_SIZE_LIMIT through the handler; plus PAGE_CACHE_TTL_MS.
 */
import process from 'node:process';
import { handler } from '../build/handler.js';
import { createPageServer, PageCache } from './page-cache.js';

/** @param {string} name @param {string} fallback */
const env = (name, fallback) => process.env[name] || fallback;
/** @param {string} name @param {number} fallback */
function number(name, fallback) {
  const value = Number(env(name, String(fallback)));
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0, not ${process.env[name]}`);
  return value;
}

const host = env('HOST', '0.0.0.0');
const port = number('PORT', 3000);
const shutdownTimeout = number('SHUTDOWN_TIMEOUT', 30);
const pages = new PageCache(number('PAGE_CACHE_TTL_MS', 1_000));

// What a page may differ by: the shopper's language (hooks.server.ts: the `lang` cookie, then
// Accept-Language) and the host its absolute URLs are made from, by a proxy's headers if trusted.
const keyHeaders = ['host', 'accept-language', 'cookie'];
for (const name of ['PROTOCOL_HEADER', 'HOST_HEADER']) {
  const header = process.env[name]?.toLowerCase();
  if (header) keyHeaders.push(header);
}

const server = createPageServer(handler, pages, { keyHeaders });
if (process.env.KEEP_ALIVE_TIMEOUT) server.keepAliveTimeout = number('KEEP_ALIVE_TIMEOUT', 5) * 1000;
if (process.env.HEADERS_TIMEOUT) server.headersTimeout = number('HEADERS_TIMEOUT', 60) * 1000;

server.listen(port, host, () => {
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`Listening on http://${host.includes(':') ? `[${host}]` : host}:${address.port}`);
});

// As adapter-node's entry: stop taking connections, let the requests in flight finish (idle
// keep-alive connections are closed at once, busy ones when their answer is sent), force the rest
// after SHUTDOWN_TIMEOUT seconds, then tell the app (`sveltekit:shutdown`).
let stopping = false;
server.on('request', (req) => req.once('close', () => stopping && server.closeIdleConnections()));

/** @param {NodeJS.Signals} reason */
function shutdown(reason) {
  if (stopping) return;
  stopping = true;
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), shutdownTimeout * 1000);
  server.close(() => {
    clearTimeout(force);
    // @ts-expect-error: a custom event, as adapter-node emits it
    process.emit('sveltekit:shutdown', reason);
  });
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
