/**
 * The storefront server's response class, given to Node with http.createServer's `ServerResponse`
 * option (its documented way of extending the response). Until `hold` is called it is Node's
 * ServerResponse; after, what the handler writes is held until it ends and handed over complete,
 * for the page cache (page-cache.js) to compress, keep and send. An answer past MAX_PAGE_BYTES is
 * released: what was held goes out, and the rest as it is written.
 */
import { ServerResponse } from 'node:http';

/**
 * A complete answer, as the handler wrote it.
 * @typedef {object} Written
 * @property {number} status
 * @property {(string | number)[]} headers Its headers as `writeHead` takes them (name, value, ...), without
 *   `Content-Length`, `ETag` and the connection's own.
 * @property {Record<string, string>} fields The same headers by name, repeated ones joined.
 * @property {Buffer} body
 * @property {string | undefined} etag
 */

/** An answer larger than this is streamed as written: neither compressed nor kept. */
export const MAX_PAGE_BYTES = 1024 * 1024;

/** Headers the connection makes, never stored with an answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length', 'age']);

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

/** Node's ServerResponse, which can hold an answer until it is complete (see above). */
export class PageResponse extends ServerResponse {
  /** @type {Held | undefined} */
  #held;
  /** @type {((written: Written | undefined) => void) | undefined} */
  #done;

  /**
   * Holds what the handler writes until it ends, then calls `done` once: with the complete answer
   * (which `done` must send), or with undefined when the answer was too large and went out as
   * written, or the connection closed first.
   * @param {(written: Written | undefined) => void} done
   */
  hold(done) {
    this.#held = { chunks: [], size: 0, wroteHead: false, message: undefined };
    let called = false;
    this.#done = (written) => {
      if (called) return;
      called = true;
      done(written);
    };
    this.once('close', () => {
      this.#held = undefined;
      this.#done?.(undefined);
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
    this.#done?.(this.#written(held));
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
   * What was written; its headers leave the response, to be given to writeHead again.
   * @param {Held} held
   * @returns {Written}
   */
  #written(held) {
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
    return {
      status: this.statusCode,
      headers,
      fields,
      body: Buffer.concat(held.chunks, held.size),
      etag: typeof etag === 'string' ? etag : undefined,
    };
  }
}
