/**
 * Public pages (answers marked `Cache-Control: public`: listings, the home page) kept for a
 * moment in this process, by language and URL, as the API keeps its public answers: under a burst
 * of shoppers on the same page, one renders it and the others get the same bytes. A page is at
 * most `ttlMs` older than it would be (less than the `max-age` it already tells browsers and
 * CDNs). Nothing with a cookie, nothing private, nothing but a 200 is kept.
 */
export class PageCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { response: Response; expires: number }>();

  constructor(ttlMs: number, maxEntries = 2_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  get(key: string): Response | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > performance.now()) return entry.response;
    this.#entries.delete(key);
    return undefined;
  }

  /** Keeps a copy of the response when it may be shared; answers the response to send. */
  async keep(key: string, response: Response): Promise<Response> {
    const shared =
      this.#ttlMs > 0 &&
      response.status === 200 &&
      /\bpublic\b/.test(response.headers.get('cache-control') ?? '') &&
      !response.headers.has('set-cookie');
    if (!shared) return response;
    // The body is read once, into memory (a page is tens of kilobytes), and served from there.
    const body = await response.arrayBuffer();
    const kept = new Response(body, { status: response.status, headers: response.headers });
    const now = performance.now();
    // Stored again, a key moves to the end: entries stay in the order they expire (one TTL).
    this.#entries.delete(key);
    this.#entries.set(key, { response: kept, expires: now + this.#ttlMs });
    // From the oldest, the expired pages go, then as many as the bound asks: a cache of one-second
    // pages holds a second's worth, not 2,000 pages nobody will be sent (in the 10-minute soak,
    // the storefront grew from 230 to 410 MB filling up with them).
    for (const [oldest, entry] of this.#entries) {
      if (entry.expires > now && this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
    return kept.clone();
  }

  /** How many pages are kept now. */
  get size(): number {
    return this.#entries.size;
  }
}
