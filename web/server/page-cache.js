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
 * The cache follows HTTP's rules for a shared cache (RFC 9111):
 *  - only a 200 to a GET, marked `Cache-Control: public`, without `Set-Cookie`, and varying on
 *    nothing but the headers of the key is kept: the admin pages (`private, no-store`), the product
 *    pages (live stock: not public) and errors never are;
 *  - the key is the URL and the request headers a page varies on (`Accept-Language` and `Cookie`
 *    for the shopper's language, the host its absolute URLs are made from);
 *  - an answer from the cache carries `Age`; `If-None-Match` matching its ETag answers 304.
 * A URL whose answer could not be kept is remembered as such for the same moment ("hit for pass",
 * as Varnish says): its next requests go straight to SvelteKit, none waits for another.
 */
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** @typedef {import('node:http').IncomingMessage} Req */
/** @typedef {import('node:http').ServerResponse} Res */
/** @typedef {'br' | 'gzip' | 'identity'} Encoding */

/**
 * A complete answer, as SvelteKit wrote it.
 * @typedef {object} Answer
 * @property {number} status
 * @property {(string | number)[]} headers Its headers as `writeHead` takes them (name, value, ...), without
 *   `Content-Length` and the connection's own.
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

/** @typedef {{ page: Page | undefined; expires: number }} Entry A page, or a URL not to keep (`page` undefined). */

/** An answer larger than this is streamed as written: neither compressed here nor kept. */
export const MAX_PAGE_BYTES = 1024 * 1024;
/** Below this, compressing saves less than it costs. */
const MIN_COMPRESSED_BYTES = 1024;

/** Headers the connection makes, never stored with an answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length', 'age']);
/** What a 304 carries of the page's headers (RFC 9110 15.4.5). */
const VALIDATORS = new Set(['cache-control', 'content-location', 'expires', 'vary']);
const COMPRESSIBLE = /^(text\/|application\/(json|javascript|xml|manifest\+json)|image\/svg\+xml)/i;

export class PageCache {
  /** @type {number} */
  #ttlMs;
  /** @type {number} */
  #maxEntries;
  /** @type {Map<string, Entry>} */
  #entries = new Map();

  /**
   * @param {number} ttlMs How long a page is sent again; 0 keeps nothing.
   * @param {number} [maxEntries] At most this many pages (and URLs not to keep) at once.
   */
  constructor(ttlMs, maxEntries = 2_000) {
    if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new Error(`PAGE_CACHE_TTL_MS must be a number ≥ 0, not ${ttlMs}`);
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
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
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > performance.now()) return entry.page ?? null;
    this.#entries.delete(key);
    return undefined;
  }

  /**
   * Keeps a page, or (undefined) remembers that this URL's answer could not be kept.
   * @param {string} key
   * @param {Page | undefined} page
   */
  keep(key, page) {
    if (this.#ttlMs === 0) return;
    const now = performance.now();
    // Stored again, a key moves to the end: entries stay in the order they expire (one TTL).
    this.#entries.delete(key);
    this.#entries.set(key, { page, expires: now + this.#ttlMs });
    // From the oldest, the expired entries go, then as many as the bound asks: a cache of
    // one-second pages holds a second's worth, not 2,000 pages nobody will be sent (in a
    // 10-minute soak, the storefront grew from 230 to 410 MB when they stayed until read).
    for (const [oldest, entry] of this.#entries) {
      if (entry.expires > now && this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  /** How many pages and URLs not to keep are known now. */
  get size() {
    return this.#entries.size;
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

/**
 * The encoding to answer in: Brotli, else gzip, else none, as `Accept-Encoding` allows (RFC 9110 12.5.3).
 * @param {string | undefined} accept
 * @returns {Encoding}
 */
export function negotiate(accept) {
  if (!accept) return 'identity';
  /** @type {Map<string, number>} */
  const weights = new Map();
  for (const part of accept.toLowerCase().split(',')) {
    const [name = '', ...params] = part.split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    weights.set(name, q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  const weight = (/** @type {string} */ name) => weights.get(name) ?? weights.get('*') ?? 0;
  if (weight('br') > 0) return 'br';
  if (weight('gzip') > 0) return 'gzip';
  return 'identity';
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

/** Accept-Encoding values seen, and what they choose (browsers send a handful). */
const chosen = new Map();

/**
 * Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 13.1.2).
 * @param {string | undefined} ifNoneMatch
 * @param {string} etag
 */
function matches(ifNoneMatch, etag) {
  if (!ifNoneMatch) return false;
  const weak = (/** @type {string} */ tag) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => weak(tag) === weak(etag));
}

/**
 * Sends a complete answer in the encoding the request accepts.
 * @param {Req} req
 * @param {Res} res
 * @param {Answer} answer
 * @param {number} [stored] When it was kept, for `Age`; undefined for a fresh answer.
 */
function send(req, res, answer, stored) {
  let encoding = /** @type {Encoding} */ ('identity');
  if (answer.compressible && answer.body.length >= MIN_COMPRESSED_BYTES) {
    const accept = /** @type {string} */ (req.headers['accept-encoding'] ?? '');
    encoding = chosen.get(accept);
    if (encoding === undefined) {
      encoding = negotiate(accept);
      if (chosen.size < 1_000) chosen.set(accept, encoding);
    }
  }
  const kept = stored !== undefined;
  const { body, etag, head, notModified } = variant(answer, encoding, kept);
  const notChanged =
    answer.status === 200 &&
    etag !== undefined &&
    matches(/** @type {string | undefined} */ (req.headers['if-none-match']), etag);
  const headers = notChanged ? notModified : head;
  if (kept) headers[headers.length - 1] = Math.floor((performance.now() - stored) / 1000);
  res.writeHead(notChanged ? 304 : answer.status, headers);
  res.end(notChanged || req.method === 'HEAD' ? undefined : body);
}

/**
 * Holds what the handler writes to `res` until it ends, then calls `done` with the complete answer
 * (which it must send), or with undefined when the answer was too large and went out as written,
 * or the connection closed first.
 * @param {Res} res
 * @param {(answer: Answer | undefined) => void} done
 */
function hold(res, done) {
  /** @type {Buffer[]} */
  let chunks = [];
  let size = 0;
  let holding = true;
  let finished = false;
  /** @type {unknown[] | undefined} the arguments of writeHead after the status */
  let head;
  const restore = () => {
    // The instance's own methods go: the prototype's are back.
    Reflect.deleteProperty(res, 'write');
    Reflect.deleteProperty(res, 'end');
    Reflect.deleteProperty(res, 'writeHead');
  };
  /**
   * Too large to hold: what was held goes out, and the rest as it is written. Answers what the
   * last write answers (false: wait for 'drain'); `callback` is called once that write is done.
   * @param {((error?: Error | null) => void) | undefined} callback
   */
  const release = (callback) => {
    holding = false;
    restore();
    if (head) res.writeHead(res.statusCode, .../** @type {[]} */ (head));
    const held = chunks;
    chunks = [];
    let ok = true;
    held.forEach((chunk, i) => {
      ok = i === held.length - 1 && callback ? res.write(chunk, callback) : res.write(chunk);
    });
    return ok;
  };
  const finish = (/** @type {Answer | undefined} */ answer) => {
    if (finished) return;
    finished = true;
    done(answer);
  };

  /** @param {unknown} chunk @param {unknown} encoding */
  const collect = (chunk, encoding) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk, /** @type {BufferEncoding} */ (typeof encoding === 'string' ? encoding : 'utf8'))
        : Buffer.from(/** @type {Uint8Array} */ (chunk));
    size += buffer.length;
    chunks.push(buffer);
  };

  res.writeHead = /** @type {typeof res.writeHead} */ (
    function (/** @type {number} */ status, /** @type {unknown[]} */ ...rest) {
      res.statusCode = status;
      // Headers handed to writeHead itself are not readable afterwards (getHeaders): applied now.
      for (const argument of rest) {
        if (Array.isArray(argument)) {
          for (let i = 0; i + 1 < argument.length; i += 2) res.setHeader(argument[i], argument[i + 1]);
        } else if (typeof argument === 'object' && argument !== null) {
          for (const [name, value] of Object.entries(argument)) if (value !== undefined) res.setHeader(name, value);
        }
      }
      head = rest.filter((argument) => typeof argument === 'string');
      return res;
    }
  );
  res.write = /** @type {typeof res.write} */ (
    function (/** @type {unknown} */ chunk, /** @type {unknown[]} */ ...rest) {
      collect(chunk, rest[0]);
      const callback = /** @type {((error?: Error | null) => void) | undefined} */ (
        rest.find((argument) => typeof argument === 'function')
      );
      if (size > MAX_PAGE_BYTES) return release(callback);
      if (callback) process.nextTick(() => callback());
      return true;
    }
  );
  res.end = /** @type {typeof res.end} */ (
    function (/** @type {unknown} */ chunk, /** @type {unknown[]} */ ...rest) {
      collect(chunk, rest[0]);
      restore();
      // As Node calls end's callback: once the answer is sent.
      const callback = [chunk, ...rest].find((argument) => typeof argument === 'function');
      if (typeof callback === 'function') res.once('finish', () => callback());
      const body = Buffer.concat(chunks, size);
      chunks = [];
      const headers = /** @type {(string | number)[]} */ ([]);
      for (const [name, value] of Object.entries(res.getHeaders())) {
        if (value === undefined || HOP_BY_HOP.has(name) || name === 'etag') continue;
        for (const one of Array.isArray(value) ? value : [value]) headers.push(name, one);
      }
      const type = String(res.getHeader('content-type') ?? '');
      const etag = res.getHeader('etag');
      // Headers set on `res` stay there; the answer's are given to writeHead again.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      const compressible = COMPRESSIBLE.test(type) && header(headers, 'content-encoding') === undefined;
      if (compressible) {
        const vary = header(headers, 'vary');
        if (vary === undefined) headers.push('vary', 'Accept-Encoding');
        else headers[vary] = `${headers[vary]}, Accept-Encoding`;
      }
      finish({
        status: res.statusCode,
        headers,
        body,
        etag: typeof etag === 'string' ? etag : undefined,
        compressible,
        variants: {},
      });
      return res;
    }
  );
  res.once('close', () => {
    if (holding && !finished) restore();
    finish(undefined);
  });
}

/**
 * The index of the value of header `name` in `headers` (name, value, ...), undefined if absent.
 * @param {(string | number)[]} headers
 * @param {string} name
 */
function header(headers, name) {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return i + 1;
  return undefined;
}

/**
 * Whether a shared cache may keep this answer and send it to anyone sending the same key.
 * @param {Answer} answer
 * @param {Set<string>} keyed The request headers in the key (and Accept-Encoding, negotiated here).
 */
function shareable(answer, keyed) {
  if (answer.status !== 200) return false;
  const cacheControl = String(answer.headers[header(answer.headers, 'cache-control') ?? -1] ?? '').toLowerCase();
  const directives = cacheControl.split(',').map((d) => d.trim().split('=')[0]);
  if (!directives.includes('public') || directives.some((d) => ['private', 'no-store', 'no-cache'].includes(d ?? ''))) {
    return false;
  }
  if (header(answer.headers, 'set-cookie') !== undefined) return false;
  const vary = String(answer.headers[header(answer.headers, 'vary') ?? -1] ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  return vary.every((name) => keyed.has(name));
}

/**
 * The request listener: adapter-node's `handler` behind the compression and the page cache.
 * @param {(req: Req, res: Res, next: () => void) => void} handler
 * @param {PageCache} cache
 * @param {{ keyHeaders: string[] }} options The request headers pages may vary on, in the key.
 * @returns {import('node:http').RequestListener}
 */
export function withPageCache(handler, cache, { keyHeaders }) {
  const names = keyHeaders.map((name) => name.toLowerCase());
  const keyed = new Set([...names, 'accept-encoding']);
  /** Pages being rendered, and the requests waiting for them. */
  /** @type {Map<string, [Req, Res][]>} */
  const rendering = new Map();
  /** @param {Req} req @param {Res} res */
  const render = (req, res) =>
    handler(req, res, () => {
      res.statusCode = 404;
      res.end('Not found');
    });
  /** @param {Req} req @param {Res} res @param {(answer: Answer | undefined) => void} [then] */
  const renderHeld = (req, res, then) => {
    hold(res, (answer) => {
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
      const page =
        answer && shareable(answer, keyed) ? { ...answer, stored: performance.now(), variants: {} } : undefined;
      // Nothing is learnt from an answer that did not complete here (too large, or cut off).
      if (answer) cache.keep(key, page);
      for (const [otherReq, otherRes] of waiters) {
        if (page) send(otherReq, otherRes, page, page.stored);
        else renderHeld(otherReq, otherRes);
      }
    });
  };
}
