/**
 * The storefront's answers, between Node's HTTP server and SvelteKit (adapter-node's handler):
 *
 * - **Compression.** A GET's answer is held until complete (up to MAX_PAGE_BYTES, then it streams
 *   as written), then sent in the encoding the client accepts, Brotli or gzip, when its type is
 *   text, JSON or SVG. SvelteKit sends pages uncompressed; its static files come precompressed.
 * - **A page cache.** A public page is kept for a moment (`PAGE_CACHE_TTL_MS`, 1 s by default)
 *   and sent again, as stored bytes, to every shopper asking for the same URL with the same headers
 *   it varies on, without going through SvelteKit. Under a burst on one page, one request renders
 *   it and the others wait for those bytes rather than render it again.
 *
 * HTTP's rules come from maintained libraries: `negotiator` chooses the encoding (RFC 9110 12.5.3),
 * `fresh` answers `If-None-Match` (RFC 9110 13.1.2), `http-cache-semantics` says whether a shared
 * cache may store an answer and for how long (RFC 9111 3 and 4.2), `lru-cache` holds the pages.
 * On top of them, this cache's own rules:
 *  - it keeps only a 200 without `Set-Cookie` (one shopper's cookie is never sent to another, and
 *    an error is rendered again rather than repeated), for the shorter of its TTL and the answer's
 *    freshness: the admin pages (`private, no-store`), the product pages (`no-cache`: live stock)
 *    and errors never are;
 *  - the key is the URL and the request headers a page may vary on (`Accept-Language` and `Cookie`
 *    for the shopper's language, the host its absolute URLs are made from), so an answer varying
 *    on any other header is not kept;
 *  - an answer from the cache carries `Age`.
 * A URL whose answer could not be kept is remembered as such for the same moment ("hit for pass",
 * as Varnish says): its next requests go straight to SvelteKit, none waits for another.
 */
import { createServer, ServerResponse } from 'node:http';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import fresh from 'fresh';
import CachePolicy from 'http-cache-semantics';
import { LRUCache } from 'lru-cache';
import Negotiator from 'negotiator';

/** @typedef {import('node:http').IncomingMessage} Req */
/** @typedef {'br' | 'gzip' | 'identity'} Encoding */

/**
 * A complete answer, as SvelteKit wrote it.
 * @typedef {object} Answer
 * @property {number} status
 * @property {(string | number)[]} headers Its headers as `writeHead` takes them (name, value, ...), without
 *   `Content-Length`, `ETag` and the connection's own.
 * @property {Record<string, string>} fields The same headers by name, for the cache's rules.
 * @property {Buffer} body
 * @property {string | undefined} etag
 * @property {boolean} compressible Whether its type is worth compressing (text, JSON, SVG).
 * @property {Partial<Record<Encoding, Variant>>} variants It in each encoding sent so far.
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

/** An answer larger than this is streamed as written: neither compressed here nor kept. */
export const MAX_PAGE_BYTES = 1024 * 1024;
/** Below this, compressing saves less than it costs. */
const MIN_COMPRESSED_BYTES = 1024;

/** Headers the connection makes, never stored with an answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length', 'age']);
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
 * @param {ServerResponse} res
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
 * What a held response has been given so far.
 * @typedef {object} Held
 * @property {Buffer[]} chunks
 * @property {number} size
 * @property {boolean} wroteHead Whether the handler called writeHead.
 * @property {string | undefined} message The status message it gave writeHead, if any.
 */

/**
 * @param {Held} held
 * @param {unknown} chunk
 * @param {unknown} encoding
 */
function collect(held, chunk, encoding) {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
  const buffer =
    typeof chunk === 'string'
      ? Buffer.from(chunk, /** @type {BufferEncoding} */ (typeof encoding === 'string' ? encoding : 'utf8'))
      : Buffer.from(/** @type {Uint8Array} */ (chunk));
  held.size += buffer.length;
  held.chunks.push(buffer);
}

/** @param {unknown[]} values */
const callbackIn = (values) =>
  /** @type {((error?: Error | null) => void) | undefined} */ (values.find((value) => typeof value === 'function'));

/**
 * The server's response class, given to Node with http.createServer's `ServerResponse` option (its
 * documented way of extending the response): after `hold`, what the handler writes is held until
 * it ends and handed over as one Answer. An answer past MAX_PAGE_BYTES is released: what was held
 * goes out, and the rest as it is written. Until `hold`, it is Node's ServerResponse.
 */
export class PageResponse extends ServerResponse {
  /** @type {Held | undefined} */
  #held;
  /** @type {(answer: Answer | undefined) => void} */
  #done = () => {};

  /**
   * Holds what the handler writes until it ends, then calls `done` once: with the complete answer
   * (which `done` must send), or with undefined when the answer was too large and went out as
   * written, or the connection closed first.
   * @param {(answer: Answer | undefined) => void} done
   */
  hold(done) {
    this.#held = { chunks: [], size: 0, wroteHead: false, message: undefined };
    let called = false;
    this.#done = (answer) => {
      if (called) return;
      called = true;
      done(answer);
    };
    this.once('close', () => {
      this.#held = undefined;
      this.#done(undefined);
    });
  }

  /**
   * @param {number} status
   * @param {unknown[]} rest
   * @returns {this}
   */
  writeHead(status, ...rest) {
    const held = this.#held;
    if (!held) return Reflect.apply(super.writeHead, this, [status, ...rest]);
    this.statusCode = status;
    // Headers handed to writeHead itself would not be readable with getHeaders: set them now.
    for (const argument of rest) {
      if (Array.isArray(argument)) {
        for (let i = 0; i + 1 < argument.length; i += 2) this.setHeader(argument[i], argument[i + 1]);
      } else if (typeof argument === 'object' && argument !== null) {
        for (const [name, value] of Object.entries(argument)) if (value !== undefined) this.setHeader(name, value);
      }
    }
    held.wroteHead = true;
    held.message = /** @type {string | undefined} */ (rest.find((argument) => typeof argument === 'string'));
    return this;
  }

  /**
   * @param {unknown} chunk
   * @param {unknown[]} rest
   * @returns {boolean}
   */
  write(chunk, ...rest) {
    const held = this.#held;
    if (!held) return Reflect.apply(super.write, this, [chunk, ...rest]);
    collect(held, chunk, rest[0]);
    const callback = callbackIn(rest);
    if (held.size > MAX_PAGE_BYTES) return this.#release(held, callback);
    if (callback) process.nextTick(() => callback());
    return true;
  }

  /**
   * @param {unknown} [chunk]
   * @param {unknown[]} rest
   * @returns {this}
   */
  end(chunk, ...rest) {
    const held = this.#held;
    if (!held) return Reflect.apply(super.end, this, [chunk, ...rest]);
    collect(held, chunk, rest[0]);
    this.#held = undefined;
    // As Node calls end's callback: once the answer is sent.
    const callback = callbackIn([chunk, ...rest]);
    if (callback) this.once('finish', () => callback());
    this.#done(this.#answer(held));
    return this;
  }

  /**
   * Too large to hold: what was held goes out, and the rest as it is written. Answers what the
   * last write answers (false: wait for 'drain'); `callback` is called once that write is done.
   * @param {Held} held
   * @param {((error?: Error | null) => void) | undefined} callback
   */
  #release(held, callback) {
    this.#held = undefined;
    if (held.wroteHead) {
      if (held.message === undefined) super.writeHead(this.statusCode);
      else super.writeHead(this.statusCode, held.message);
    }
    let ok = true;
    held.chunks.forEach((chunk, i) => {
      ok = i === held.chunks.length - 1 && callback ? super.write(chunk, callback) : super.write(chunk);
    });
    return ok;
  }

  /**
   * The complete answer; its headers leave the response, to be given to writeHead again.
   * @param {Held} held
   * @returns {Answer}
   */
  #answer(held) {
    /** @type {(string | number)[]} */
    const headers = [];
    /** @type {Record<string, string>} */
    const fields = {};
    for (const [name, value] of Object.entries(this.getHeaders())) {
      if (value === undefined || HOP_BY_HOP.has(name) || name === 'etag') continue;
      const values = Array.isArray(value) ? value : [value];
      for (const one of values) headers.push(name, one);
      fields[name] = values.join(', ');
    }
    const etag = this.getHeader('etag');
    for (const name of this.getHeaderNames()) this.removeHeader(name);
    const compressible = COMPRESSIBLE.test(fields['content-type'] ?? '') && fields['content-encoding'] === undefined;
    if (compressible) {
      const vary = headers.indexOf('vary');
      if (vary === -1) headers.push('vary', 'Accept-Encoding');
      else headers[vary + 1] = `${headers[vary + 1]}, Accept-Encoding`;
      fields.vary = fields.vary === undefined ? 'Accept-Encoding' : `${fields.vary}, Accept-Encoding`;
    }
    return {
      status: this.statusCode,
      headers,
      fields,
      body: Buffer.concat(held.chunks, held.size),
      etag: typeof etag === 'string' ? etag : undefined,
      compressible,
      variants: {},
    };
  }
}

/**
 * For how long (ms) this cache may keep an answer and send it to anyone sending the same key; 0
 * when it may not.
 * @param {Req} req
 * @param {Answer} answer
 * @param {Set<string>} keyed The request headers in the key.
 */
function keepableFor(req, answer, keyed) {
  if (answer.status !== 200 || answer.fields['set-cookie'] !== undefined) return 0;
  // Accept-Encoding is negotiated here for what is compressed here; anything else the answer
  // varies on must be in the key.
  const vary = (answer.fields.vary ?? '').split(',').map((name) => name.trim().toLowerCase());
  if (!vary.every((name) => name === '' || keyed.has(name) || (name === 'accept-encoding' && answer.compressible))) {
    return 0;
  }
  // A shared cache's view (RFC 9111 3), freshness only from Cache-Control and Expires: a page's
  // lifetime is never guessed from its Last-Modified.
  const policy = new CachePolicy(req, { status: answer.status, headers: answer.fields }, { cacheHeuristic: 0 });
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
    res.hold((answer) => {
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
