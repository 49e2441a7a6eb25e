/**
 * The storefront's answers, between Node's HTTP server and SvelteKit (adapter-node's handler):
 *
 * - **Compression.** A GET's answer is held until complete (page-response.js: up to MAX_PAGE_BYTES,
 *   then it streams as written), then sent in the encoding the client accepts, Brotli or gzip,
 *   when its type is text, JSON or SVG. SvelteKit sends pages uncompressed; its static files come
 *   precompressed.
 * - **A page cache.** A public page is kept for a moment (`PAGE_CACHE_TTL_MS`, 1 s by default)
 *   and sent again, as stored bytes, to every shopper asking for the same URL with the same headers
 *   it varies on, without going through SvelteKit. Under a burst on one page, one request renders
 *   it and the others wait for those bytes rather than render it again.
 *
 * HTTP's rules come from maintained libraries: `negotiator` chooses the encoding (RFC 9110 12.5.3),
 * `fresh` answers `If-None-Match` (RFC 9110 13.1.2), `http-cache-semantics` says whether a shared
 * cache may store an answer and for how long (RFC 9111 3 and 4.2), `lru-cache` holds the pages.
 * On top of them, this cache's own rules:
 *  - it keeps only a 200 marked `public` (the app opts in), without `Set-Cookie` (one shopper's
 *    cookie is never sent to another; an error is rendered again rather than repeated), for the
 *    shorter of its TTL and the answer's freshness: the admin pages (`private, no-store`), the
 *    product pages (`no-cache`: live stock) and errors never are;
 *  - the key is the URL and the request headers a page may vary on (`Accept-Language` and `Cookie`
 *    for the shopper's language, the host its absolute URLs are made from), so an answer varying
 *    on any other header is not kept;
 *  - an answer from the cache carries `Age`.
 * A URL whose answer could not be kept is remembered as such for the same moment ("hit for pass",
 * as Varnish says): its next requests go straight to SvelteKit, none waits for another.
 */
import { createServer } from 'node:http';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import fresh from 'fresh';
import CachePolicy from 'http-cache-semantics';
import { LRUCache } from 'lru-cache';
import Negotiator from 'negotiator';
import { PageResponse } from './page-response.js';

export { MAX_PAGE_BYTES } from './page-response.js';

/** @typedef {import('node:http').IncomingMessage} Req */
/** @typedef {'br' | 'gzip' | 'identity'} Encoding */

/** @typedef {import('./page-response.js').Written} Written */

/**
 * A complete answer, as SvelteKit wrote it, ready to be sent in any encoding.
 * @typedef {object} AnswerParts
 * @property {boolean} compressible Whether its type is worth compressing (text, JSON, SVG).
 * @property {Partial<Record<Encoding, Variant>>} variants It in each encoding sent so far.
 * @typedef {Written & AnswerParts} Answer
 */

/**
 * An answer in one encoding, ready to send.
 * @typedef {object} Variant
 * @property {Buffer} body
 * @property {string | undefined} etag
 * @property {(string | number)[]} head The headers of a 200 (or the answer's status).
 * @property {(string | number)[]} notModified The headers of a 304.
 */

/** A kept answer: @typedef {Answer & { stored: number }} Page */

/** Below this, compressing saves less than it costs. */
const MIN_COMPRESSED_BYTES = 1024;

/** What a 304 carries of the page's headers (RFC 9110 15.4.5). */
const VALIDATORS = new Set(['cache-control', 'content-location', 'expires', 'vary']);
const COMPRESSIBLE = /^(text\/|application\/(json|javascript|xml|manifest\+json)|image\/svg\+xml)/i;
/** A URL whose answer could not be kept. */
const PASS = 'pass';

export class PageCache {
  /** @type {number} */
  #ttlMs;
  /** @type {LRUCache<string, Page | typeof PASS> | undefined} */
  #entries;

  /**
   * @param {number} ttlMs How long a page is sent again; 0 keeps nothing.
   * @param {number} [maxEntries] At most this many pages (and URLs not to keep) at once.
   */
  constructor(ttlMs, maxEntries = 2_000) {
    if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new Error(`PAGE_CACHE_TTL_MS must be a number ≥ 0, not ${ttlMs}`);
    this.#ttlMs = ttlMs;
    // An expired entry goes when its time is up, not when it is next asked for: a cache of
    // one-second pages holds a second's worth of them, not the bound's worth.
    this.#entries =
      ttlMs > 0 ? new LRUCache({ max: maxEntries, ttl: Math.ceil(ttlMs), ttlAutopurge: true }) : undefined;
  }

  get ttlMs() {
    return this.#ttlMs;
  }

  /**
   * What is known of `key` now: a page, `null` for a URL not to keep, undefined when nothing is.
   * @param {string} key
   * @returns {Page | null | undefined}
   */
  get(key) {
    const entry = this.#entries?.get(key);
    return entry === PASS ? null : entry;
  }

  /**
   * Keeps a page for the cache's TTL, or less when `freshMs` (its freshness left) is less; or
   * (undefined) remembers for the cache's TTL that this URL's answer could not be kept.
   * @param {string} key
   * @param {Page | undefined} page
   * @param {number} [freshMs]
   */
  keep(key, page, freshMs = Infinity) {
    const ttl = Math.ceil(page ? Math.min(freshMs, this.#ttlMs) : this.#ttlMs);
    if (ttl > 0) this.#entries?.set(key, page ?? PASS, { ttl });
  }

  /** How many pages and URLs not to keep are known now. */
  get size() {
    return this.#entries?.size ?? 0;
  }
}

/**
 * @param {Req} req
 * @param {string[]} keyHeaders
 */
function keyOf(req, keyHeaders) {
  let key = req.url ?? '';
  for (const name of keyHeaders) {
    const value = req.headers[name];
    key += `\n${Array.isArray(value) ? value.join(', ') : (value ?? '')}`;
  }
  return key;
}

/** Ours, best first: Brotli is smaller than gzip at the quality used here. */
const ENCODINGS = /** @type {const} */ (['br', 'gzip', 'identity']);

/**
 * The encoding to answer in: the client's preference among ours, Brotli first on a tie.
 * @param {string | undefined} accept `Accept-Encoding`
 * @returns {Encoding}
 */
export function negotiate(accept) {
  // @types/negotiator (0.6) does not know negotiator 1's `preferred`, which breaks ties.
  const negotiator = /** @type {{ encoding(available: readonly string[], options: object): string | undefined }} */ (
    /** @type {unknown} */ (new Negotiator({ headers: { 'accept-encoding': accept } }))
  );
  return /** @type {Encoding | undefined} */ (negotiator.encoding(ENCODINGS, { preferred: ENCODINGS })) ?? 'identity';
}

/** Accept-Encoding values seen, and what they choose: browsers send a handful, negotiating costs microseconds. */
/** @type {LRUCache<string, Encoding>} */
const choices = new LRUCache({ max: 1_000 });

/** @param {string} accept */
function choose(accept) {
  let encoding = choices.get(accept);
  if (encoding === undefined) choices.set(accept, (encoding = negotiate(accept)));
  return encoding;
}

/**
 * The answer in `encoding`: its body, and the headers `writeHead` takes for it, made once. The last
 * value is `Age`'s, set as each copy is sent (writeHead reads the array before returning).
 * @param {Answer} answer
 * @param {Encoding} encoding
 * @param {boolean} kept
 */
function variant(answer, encoding, kept) {
  let found = answer.variants[encoding];
  if (found) return found;
  const body =
    encoding === 'identity'
      ? answer.body
      : encoding === 'br'
        ? brotliCompressSync(answer.body, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: 5,
              [constants.BROTLI_PARAM_SIZE_HINT]: answer.body.length,
            },
          })
        : gzipSync(answer.body, { level: 6 });
  // Another coding is another representation: its ETag is the page's, weak (as nginx does).
  const etag =
    answer.etag === undefined || encoding === 'identity' ? answer.etag : `W/${answer.etag.replace(/^W\//, '')}`;
  /** @type {(string | number)[]} */
  const validators = [];
  answer.headers.forEach((value, i) => {
    if (i % 2 === 0 && VALIDATORS.has(String(value))) validators.push(value, answer.headers[i + 1] ?? '');
  });
  /** @type {(string | number)[]} */
  const extra = etag === undefined ? [] : ['etag', etag];
  const age = kept ? ['age', 0] : [];
  found = {
    body,
    etag,
    head: [
      ...answer.headers,
      ...extra,
      ...(encoding === 'identity' ? [] : ['content-encoding', encoding]),
      'content-length',
      body.length,
      ...age,
    ],
    notModified: [...validators, ...extra, ...age],
  };
  answer.variants[encoding] = found;
  return found;
}

/**
 * Sends a complete answer in the encoding the request accepts, or 304 when the request's
 * validators say the client's copy is fresh.
 * @param {Req} req
 * @param {import('node:http').ServerResponse} res
 * @param {Answer} answer
 * @param {number} [stored] When it was kept, for `Age`; undefined for a fresh answer.
 */
function send(req, res, answer, stored) {
  const encoding =
    answer.compressible && answer.body.length >= MIN_COMPRESSED_BYTES
      ? choose(req.headers['accept-encoding'] ?? '')
      : 'identity';
  const kept = stored !== undefined;
  const { body, etag, head, notModified } = variant(answer, encoding, kept);
  const notChanged = answer.status === 200 && etag !== undefined && fresh(req.headers, { etag });
  const headers = notChanged ? notModified : head;
  if (kept) headers[headers.length - 1] = Math.floor((performance.now() - stored) / 1000);
  res.writeHead(notChanged ? 304 : answer.status, headers);
  res.end(notChanged || req.method === 'HEAD' ? undefined : body);
}

/**
 * The answer as written, made ready to send: when its type is worth compressing and the handler
 * did not encode it already, it varies on Accept-Encoding too.
 * @param {Written} written
 * @returns {Answer}
 */
function answerOf(written) {
  const { headers, fields } = written;
  const compressible = COMPRESSIBLE.test(fields['content-type'] ?? '') && fields['content-encoding'] === undefined;
  if (compressible) {
    let i = 0;
    while (i < headers.length && headers[i] !== 'vary') i += 2;
    if (i < headers.length) headers[i + 1] = `${headers[i + 1]}, Accept-Encoding`;
    else headers.push('vary', 'Accept-Encoding');
    fields.vary = fields.vary === undefined ? 'Accept-Encoding' : `${fields.vary}, Accept-Encoding`;
  }
  return { ...written, compressible, variants: {} };
}

/**
 * For how long (ms) this cache may keep an answer and send it to anyone sending the same key; 0
 * when it may not.
 * @param {Req} req
 * @param {Answer} answer
 * @param {Set<string>} keyed The request headers in the key.
 */
function keepableFor(req, answer, keyed) {
  const { status, fields } = answer;
  if (status !== 200 || fields['set-cookie'] !== undefined) return 0;
  // Kept here only when the app opts in: a page marked `public`, as any cache may share it.
  if (!(fields['cache-control'] ?? '').split(',').some((directive) => directive.trim().toLowerCase() === 'public')) {
    return 0;
  }
  // Accept-Encoding is negotiated here for what is compressed here; anything else the answer
  // varies on must be in the key.
  const vary = (fields.vary ?? '').split(',').map((name) => name.trim().toLowerCase());
  if (!vary.every((name) => name === '' || keyed.has(name) || (name === 'accept-encoding' && answer.compressible))) {
    return 0;
  }
  // A shared cache's view (RFC 9111 3), freshness only from Cache-Control and Expires: a page's
  // lifetime is never guessed from its Last-Modified.
  const policy = new CachePolicy(req, { status, headers: fields }, { cacheHeuristic: 0 });
  return policy.storable() ? policy.timeToLive() : 0;
}

/**
 * The request listener: adapter-node's `handler` behind the compression and the page cache. Its
 * server must answer with PageResponse (createPageServer).
 * @param {(req: Req, res: PageResponse, next: () => void) => void} handler
 * @param {PageCache} cache
 * @param {{ keyHeaders: string[] }} options The request headers pages may vary on, in the key.
 * @returns {(req: Req, res: PageResponse) => void}
 */
export function withPageCache(handler, cache, { keyHeaders }) {
  const names = keyHeaders.map((name) => name.toLowerCase());
  const keyed = new Set(names);
  /** Pages being rendered, and the requests waiting for them. */
  /** @type {Map<string, [Req, PageResponse][]>} */
  const rendering = new Map();
  /** @param {Req} req @param {PageResponse} res */
  const render = (req, res) =>
    handler(req, res, () => {
      res.statusCode = 404;
      res.end('Not found');
    });
  /** @param {Req} req @param {PageResponse} res @param {(answer: Answer | undefined) => void} [then] */
  const renderHeld = (req, res, then) => {
    res.hold((written) => {
      const answer = written && answerOf(written);
      if (answer) send(req, res, answer);
      then?.(answer);
    });
    render(req, res);
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return render(req, res);
    if (cache.ttlMs === 0) return renderHeld(req, res);
    const key = keyOf(req, names);
    const known = cache.get(key);
    if (known) return send(req, res, known, known.stored);
    if (known === null || req.method === 'HEAD') return renderHeld(req, res);
    const waiting = rendering.get(key);
    if (waiting) {
      waiting.push([req, res]);
      return;
    }
    rendering.set(key, []);
    renderHeld(req, res, (answer) => {
      const waiters = rendering.get(key) ?? [];
      rendering.delete(key);
      const ttlMs = answer ? keepableFor(req, answer, keyed) : 0;
      const page = answer && ttlMs > 0 ? { ...answer, stored: performance.now(), variants: {} } : undefined;
      // Nothing is learnt from an answer that did not complete here (too large, or cut off).
      if (answer) cache.keep(key, page, ttlMs);
      for (const [otherReq, otherRes] of waiters) {
        if (page) send(otherReq, otherRes, page, page.stored);
        else renderHeld(otherReq, otherRes);
      }
    });
  };
}

/**
 * The storefront's HTTP server: Node's, with PageResponse as its response class, answering through
 * the page cache.
 * @param {(req: Req, res: PageResponse, next: () => void) => void} handler
 * @param {PageCache} cache
 * @param {{ keyHeaders: string[] }} options
 * @returns {import('node:http').Server} A server like any other to its callers.
 */
export function createPageServer(handler, cache, options) {
  const server = createServer({ ServerResponse: PageResponse }, withPageCache(handler, cache, options));
  return /** @type {import('node:http').Server} */ (/** @type {unknown} */ (server));
}
