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
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { response: kept, expires: performance.now() + this.#ttlMs });
    return kept.clone();
  }
}
