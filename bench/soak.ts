/**
 * `npm run bench -- --soak`: the API and the built storefront under a steady mix of traffic for
 * ten minutes, asking whether they hold: no failed request, a p99 that does not drift, and an API
 * process whose memory stays flat.
 *
 *   npm run bench -- --soak [--soak-seconds 600] [--soak-rate N] [--connections 16] [--data-dir .bench-data]
 *                           [--products N]
 *
 * - The catalogue: the one already in the data folder (`.bench-data/`, which `npm run bench` fills
 *   with 1,000,000 products), whatever its size; the soak never deletes it. An empty folder gets
 *   SOAK_PRODUCTS (or --products): a soak asks about time, not scale (the other benches do), and
 *   100,000 products load in about ten seconds while still spreading the traffic over far more
 *   pages and rows than any cache holds.
 * - The processes: PostgreSQL (embedded), the API process of the other benches (bench/server.ts:
 *   the production app factory, no rate limits, 1 s response cache) and the built storefront
 *   (`node web/server/index.js`, as `npm start` runs it) calling that API.
 * - The traffic, in MIX shares: browse (product lists by sort, category and filters, next pages
 *   by cursor going ever deeper, product details, the category tree), search (varied words,
 *   typos, filters, sorts, pages), stock writes (adjustments with an API key and an
 *   Idempotency-Key on random products and a few hot ones, some of them retries that must replay
 *   the first answer; a decrement beyond the stock is refused with 409 by design, and counted as
 *   such, not as an error) and storefront pages (home, listings, next pages, products, search).
 * - The rate: open loop, one request every 1/rate seconds whatever the answers do, each request's
 *   latency counted from the moment it was due (not from when it left), so a stall shows in full
 *   rather than slowing the load down. The rate is LOAD_FRACTION of the mix's capacity, measured
 *   first with --connections closed-loop clients (or --soak-rate).
 * - Every window (a minute; a sixth of the soak when it is shorter than MIN_WINDOWS minutes):
 *   requests, errors (5xx, socket errors, timeouts, any status the request does not expect),
 *   p50/p95/p99 per kind and overall, the API process's resident memory (/proc/<pid>/status) and
 *   its heap when it exposes `/metrics`. Then a table and the checks (see `checks`); exit 1 when
 *   one fails.
 *
 * Everything started here is stopped before returning, on success, on failure and on Ctrl-C.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KeyRepository } from '../api/src/auth/keys.ts';
import { createDatabase, migrateDatabase } from '../api/src/db/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../api/src/dev/embedded-postgres.ts';
import { createDatabaseIfMissing } from '../api/src/runtime.ts';
import { seedCatalogue } from '../api/src/seed/load.ts';
import { QUERY_MIX } from './search.ts';
import { ensureStorefrontBuilt, startApi, startStorefront, stopProcess } from './web.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

const KINDS = ['browse', 'search', 'stock', 'storefront'] as const;
type Kind = (typeof KINDS)[number];
/** Shares of the traffic: reads dominate, as in a shop; a fair share of writes keeps rows and caches changing. */
const MIX: Record<Kind, number> = { browse: 0.4, search: 0.15, stock: 0.15, storefront: 0.3 };

/** The soak's rate against the measured capacity of the mix: headroom for the machine's other work. */
const LOAD_FRACTION = 0.5;
const CALIBRATION_WARMUP_SECONDS = 5;
const CALIBRATION_SECONDS = 15;
/** A request not answered this long after it was due is a timeout, an error. */
const TIMEOUT_MS = 10_000;
const WINDOW_SECONDS = 60;
/** At least this many windows: the first is the warm-up, the others are compared with each other. */
const MIN_WINDOWS = 6;
/** The checks (see `checks` for why these). */
const P99_LAST_OVER_FIRST = 1.5;
const P99_OVER_MEDIAN = 2;
const RSS_GROWTH = 0.15;
/** Catalogue seeded when the data folder is empty (see above). */
export const SOAK_PRODUCTS = 100_000;

const PAGE_SIZE = 24;
const SORTS = ['newest', 'price_asc', 'price_desc', 'name_asc'] as const;
/** Relevance (the storefront's only search order) as often as the four listing orders together. */
export const SEARCH_SORTS = ['relevance', 'relevance', 'relevance', 'relevance', ...SORTS] as const;
/** Cursors being followed and products seen: bounded, a random one replaced when full. */
const CURSOR_POOL = 200;
const PRODUCT_POOL = 2_000;
const WRITE_POOL = 500;
/** Writes that retry an earlier one with its Idempotency-Key: the answer must be the first one, replayed. */
const RETRY_SHARE = 0.1;
/** Writes on a few hot products, whose row lock serialises them. */
const HOT_PRODUCTS = 10;
const HOT_SHARE = 0.2;
/** Storefront and API sockets: an open-loop burst queues beyond this (and its wait is counted). */
const MAX_SOCKETS = 64;
/** An idle keep-alive socket is closed after this, or sooner when the server announces a shorter keep-alive. */
const IDLE_SOCKET_MS = 30_000;

export interface SoakOptions {
  dataDir: string;
  seconds: number;
  /** Requests per second; absent: LOAD_FRACTION of the measured capacity. */
  rate?: number;
  /** Seeded when the data folder holds no catalogue. */
  products?: number;
  /** Closed-loop clients measuring the capacity. */
  connections: number;
  log: (line: string) => void;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What an answer was: `error` says why it is wrong; a 409 refusal and a replay are expected outcomes. */
interface Verdict {
  error?: string;
  refused?: boolean;
  replayed?: boolean;
}

interface Planned {
  kind: Kind;
  target: 'api' | 'web';
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Judges the answer, and learns from it (cursors, products, writes to retry). */
  check: (answer: Answer) => Verdict;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const chance = (p: number) => Math.random() < p;
const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));

/** Adds to a bounded pool: past its size, a random entry gives way, so the pool keeps moving. */
function keep<T>(pool: T[], item: T, size: number) {
  if (pool.length < size) pool.push(item);
  else pool[Math.floor(Math.random() * size)] = item;
}

const statusIs = (answer: Answer, status: number): Verdict =>
  answer.status === status ? {} : { error: `answered ${answer.status}, not ${status}` };

function json<T>(answer: Answer): T | undefined {
  try {
    return JSON.parse(answer.body) as T;
  } catch {
    return undefined;
  }
}

interface ListCursor {
  /** The list's query without its cursor: the sort and filters the cursor is bound to. */
  query: string;
  sort: string;
  category?: string;
  filtered: boolean;
  cursor: string;
}

/** Plans the requests of the mix, and keeps what it learns from the answers to plan the next ones. */
class Traffic {
  readonly #cursors: ListCursor[] = [];
  readonly #products: { id: number; slug: string }[] = [];
  readonly #writes: { path: string; body: string; key: string; status: number }[] = [];
  readonly #kinds: { kind: Kind; upTo: number }[];
  readonly #categories: string[];
  readonly #maxProductId: number;
  readonly #apiKey: string;
  /** Makes this run's Idempotency-Keys its own: a key of an earlier run would replay that run's answer. */
  readonly #runId: string;
  #writeCount = 0;

  constructor(options: { categories: string[]; maxProductId: number; apiKey: string; runId: string }) {
    this.#categories = options.categories;
    this.#maxProductId = options.maxProductId;
    this.#apiKey = options.apiKey;
    this.#runId = options.runId;
    let sum = 0;
    this.#kinds = KINDS.map((kind) => ({ kind, upTo: (sum += MIX[kind]) }));
  }

  next(): Planned {
    const draw = Math.random() * this.#kinds.at(-1)!.upTo;
    return this.of(this.#kinds.find((k) => draw < k.upTo)?.kind ?? 'browse');
  }

  of(kind: Kind): Planned {
    switch (kind) {
      case 'browse':
        return this.#browse();
      case 'search':
        return this.#search();
      case 'stock':
        return this.#stock();
      case 'storefront':
        return this.#storefront();
    }
  }

  /** A first page of a list: any sort, often a category, sometimes filters. */
  #firstPage(): Planned {
    const sort = pick(SORTS);
    const category = chance(0.6) ? pick(this.#categories) : undefined;
    const filters: string[] = [];
    if (chance(0.2)) filters.push('in_stock=true');
    if (chance(0.2)) {
      const low = pick([0, 1_000, 5_000, 20_000]);
      filters.push(`min_price=${low}`, `max_price=${low * 4 + 2_000}`);
    }
    const query = [
      `limit=${PAGE_SIZE}`,
      `sort=${sort}`,
      ...(category ? [`category=${category}`] : []),
      ...filters,
    ].join('&');
    return this.#list(`/v1/products?${query}`, { query, sort, category, filtered: filters.length > 0 });
  }

  /** A list page; its next cursor joins the pool (at `replacing`, when it follows one from there). */
  #list(path: string, base: Omit<ListCursor, 'cursor'>, replacing?: ListCursor): Planned {
    return {
      kind: 'browse',
      target: 'api',
      method: 'GET',
      path,
      check: (answer) => {
        if (answer.status !== 200) return statusIs(answer, 200);
        const page = json<{ data: { id: number; slug: string }[]; next_cursor: string | null }>(answer);
        if (!page || !Array.isArray(page.data)) return { error: 'not a page of products' };
        for (const product of page.data.slice(0, 4))
          keep(this.#products, { id: product.id, slug: product.slug }, PRODUCT_POOL);
        const at = replacing ? this.#cursors.indexOf(replacing) : -1;
        if (page.next_cursor) {
          const next = { ...base, cursor: page.next_cursor };
          if (at >= 0) this.#cursors[at] = next;
          else keep(this.#cursors, next, CURSOR_POOL);
        } else if (at >= 0) {
          this.#cursors.splice(at, 1);
        }
        return {};
      },
    };
  }

  #browse(): Planned {
    const draw = Math.random();
    if (draw < 0.35 && this.#cursors.length > 0) {
      // The next page of a list someone is reading: each one walks deeper into the catalogue.
      const followed = pick(this.#cursors);
      return this.#list(`/v1/products?${followed.query}&cursor=${followed.cursor}`, followed, followed);
    }
    if (draw < 0.65 && this.#products.length > 0) {
      const product = pick(this.#products);
      return {
        kind: 'browse',
        target: 'api',
        method: 'GET',
        path: `/v1/products/${chance(0.5) ? product.id : product.slug}`,
        check: (answer) => statusIs(answer, 200),
      };
    }
    if (draw < 0.72) {
      return {
        kind: 'browse',
        target: 'api',
        method: 'GET',
        path: '/v1/categories',
        check: (answer) => statusIs(answer, 200),
      };
    }
    return this.#firstPage();
  }

  /** The words of QUERY_MIX (some carry a filter already), with other sorts, pages and categories. */
  #searchQuery(): string {
    const [words, ...filters] = pick(QUERY_MIX).split('&');
    const parts = [`q=${encodeURIComponent(words!)}`, ...filters];
    const sort = pick(SEARCH_SORTS);
    if (sort !== 'relevance') parts.push(`sort=${sort}`);
    if (chance(0.15) && !filters.some((f) => f.startsWith('category=')))
      parts.push(`category=${pick(this.#categories)}`);
    if (chance(0.2)) parts.push(`page=${between(2, 4)}`);
    return parts.join('&');
  }

  #search(): Planned {
    return {
      kind: 'search',
      target: 'api',
      method: 'GET',
      path: `/v1/search?${this.#searchQuery()}`,
      check: (answer) => {
        if (answer.status !== 200) return statusIs(answer, 200);
        return Array.isArray(json<{ hits: unknown[] }>(answer)?.hits) ? {} : { error: 'no hits array' };
      },
    };
  }

  #stock(): Planned {
    const headers = { authorization: `Bearer ${this.#apiKey}`, 'content-type': 'application/json' };
    if (chance(RETRY_SHARE) && this.#writes.length > 0) {
      const first = pick(this.#writes);
      return {
        kind: 'stock',
        target: 'api',
        method: 'POST',
        path: first.path,
        headers: { ...headers, 'idempotency-key': first.key },
        body: first.body,
        check: (answer) =>
          answer.status === first.status && answer.headers['idempotent-replayed'] === 'true'
            ? { replayed: true, refused: answer.status === 409 }
            : {
                error: `retry answered ${answer.status} (idempotent-replayed: ${answer.headers['idempotent-replayed'] ?? 'absent'}), the first answer was ${first.status}`,
              },
      };
    }
    const id = chance(HOT_SHARE) ? between(1, HOT_PRODUCTS) : between(1, this.#maxProductId);
    // Mostly sales of one or a few units, some deliveries, and large orders that often exceed the
    // stock (most products hold a few dozen units; 8% none): those are refused with 409.
    const draw = Math.random();
    const delta = draw < 0.55 ? -1 : draw < 0.7 ? -between(2, 5) : draw < 0.9 ? between(5, 40) : -between(100, 400);
    const path = `/v1/products/${id}/stock-adjustments`;
    const body = JSON.stringify({ delta, reason: 'soak' });
    const key = `soak-${this.#runId}-${++this.#writeCount}`;
    return {
      kind: 'stock',
      target: 'api',
      method: 'POST',
      path,
      headers: { ...headers, 'idempotency-key': key },
      body,
      check: (answer) => {
        const refused = answer.status === 409 && answer.body.includes('insufficient-stock');
        if (answer.status !== 201 && !refused) return { error: `answered ${answer.status}, not 201 or 409` };
        keep(this.#writes, { path, body, key, status: answer.status }, WRITE_POOL);
        return { refused };
      },
    };
  }

  /** One request of each kind and of each storefront page (browse first: the pages need its cursors and products). */
  primers(): Planned[] {
    return [this.#search(), this.#stock(), ...[0.1, 0.3, 0.5, 0.7, 0.9].map((draw) => this.#storefront(draw))];
  }

  #storefront(draw = Math.random()): Planned {
    let path: string;
    // Cursors are bound to a list's sort and filters: the storefront takes the unfiltered ones.
    const unfiltered = this.#cursors.filter((c) => !c.filtered);
    if (draw < 0.15) path = '/';
    else if (draw < 0.4) {
      const sort = pick(SORTS);
      const listing = chance(0.7) ? `/c/${pick(this.#categories)}` : '/products';
      path = sort === 'newest' ? listing : `${listing}?sort=${sort}`;
    } else if (draw < 0.6 && unfiltered.length > 0) {
      const c = pick(unfiltered);
      path = `${c.category ? `/c/${c.category}` : '/products'}?${new URLSearchParams({ sort: c.sort, cursor: c.cursor })}`;
    } else if (draw < 0.85 && this.#products.length > 0) {
      path = `/p/${pick(this.#products).slug}`;
    } else {
      const [words] = pick(QUERY_MIX).split('&');
      path = `/search?q=${encodeURIComponent(words!)}${chance(0.2) ? '&page=2' : ''}`;
    }
    return {
      kind: 'storefront',
      target: 'web',
      method: 'GET',
      path,
      headers: { accept: 'text/html' },
      check: (answer) => {
        if (answer.status !== 200) return statusIs(answer, 200);
        return String(answer.headers['content-type']).startsWith('text/html') ? {} : { error: 'not an HTML page' };
      },
    };
  }
}

/** One HTTP exchange over a keep-alive agent, its body read in full. */
function send(base: string, agent: http.Agent, planned: Planned, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...planned.headers };
    if (planned.body !== undefined) headers['content-length'] = Buffer.byteLength(planned.body);
    const request = http.request(
      `${base}${planned.path}`,
      { method: planned.method, agent, headers, signal },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(planned.body);
  });
}

interface Sample {
  kind: Kind;
  ms: number;
  verdict: Verdict;
}

interface Quantiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Nearest-rank quantiles of latencies in milliseconds. */
function quantiles(latencies: number[]): Quantiles {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/** Samples of a stretch of time, summed up by kind. */
class Tally {
  readonly latencies = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
  readonly errors = new Map<string, number>();
  readonly refused = new Map<Kind, number>();
  readonly replayed = new Map<Kind, number>();
  readonly examples: string[] = [];
  requests = 0;
  errorCount = 0;

  add(sample: Sample, what: string) {
    this.requests += 1;
    this.latencies.get(sample.kind)!.push(sample.ms);
    if (sample.verdict.refused) this.refused.set(sample.kind, (this.refused.get(sample.kind) ?? 0) + 1);
    if (sample.verdict.replayed) this.replayed.set(sample.kind, (this.replayed.get(sample.kind) ?? 0) + 1);
    if (sample.verdict.error) {
      this.errorCount += 1;
      const reason = `${sample.kind}: ${sample.verdict.error.replace(/ \(.*$/, '')}`;
      this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
      if (this.examples.length < 5) this.examples.push(`${what}: ${sample.verdict.error}`);
    }
  }

  merge(other: Tally) {
    this.requests += other.requests;
    this.errorCount += other.errorCount;
    for (const kind of KINDS) {
      const into = this.latencies.get(kind)!;
      for (const latency of other.latencies.get(kind)!) into.push(latency);
      this.refused.set(kind, (this.refused.get(kind) ?? 0) + (other.refused.get(kind) ?? 0));
      this.replayed.set(kind, (this.replayed.get(kind) ?? 0) + (other.replayed.get(kind) ?? 0));
    }
    for (const [reason, n] of other.errors) this.errors.set(reason, (this.errors.get(reason) ?? 0) + n);
    for (const example of other.examples) if (this.examples.length < 5) this.examples.push(example);
  }

  byKind(kind: Kind): Quantiles {
    return quantiles(this.latencies.get(kind)!);
  }

  all(): Quantiles {
    return quantiles(KINDS.flatMap((k) => this.latencies.get(k)!));
  }

  refusals(): number {
    return KINDS.reduce((sum, k) => sum + (this.refused.get(k) ?? 0), 0);
  }
}

interface WindowFigures {
  tally: Tally;
  endsAt: number;
  apiRssMb: number;
  webRssMb: number;
  /** CPU used in the window, as a share of one core: which process was busy when latency moved. */
  apiCpu: number;
  webCpu: number;
  /** The machine's CPU and IO pressure (see `stalled`): whether everyone was waiting, not only the soak. */
  pressure?: { cpu: number; io: number };
  apiHeapMb?: number;
  /** How late the generator sent its requests at worst (its own delays, counted in the latencies). */
  lagMs: number;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds a process has used (user and system), from /proc/<pid>/stat. */
function cpuSeconds(pid: number | undefined): number {
  // After the command name (in parentheses, possibly with spaces): state, then 10 fields, then utime and stime.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * The machine's pressure stall totals (µs): how long at least one runnable task waited for a CPU,
 * and for IO (/proc/pressure, Linux 4.20+); undefined where the kernel does not keep them. On a
 * machine shared with other work, a latency spike that coincides with a CPU pressure spike is the
 * machine's, not the API's.
 */
function stalled(): { cpu: number; io: number } | undefined {
  const some = (resource: string) =>
    Number(/^some .* total=(\d+)$/m.exec(readFileSync(`/proc/pressure/${resource}`, 'utf8'))?.[1]);
  try {
    return { cpu: some('cpu'), io: some('io') };
  } catch {
    return undefined;
  }
}

/** Resident memory of a process in MB, from /proc/<pid>/status (VmRSS). */
function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}

/** The V8 heap in use (MB) from the API's Prometheus `/metrics`, when it has them (prom-client's default metrics). */
async function heapMb(apiUrl: string, token: string): Promise<number | undefined> {
  const response = await fetch(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } }).catch(
    () => undefined,
  );
  if (!response?.ok) return undefined;
  const value = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)$/m.exec(await response.text())?.[1];
  return value === undefined ? undefined : Number(value) / 2 ** 20;
}

/** The flock that web/test/support/build.ts takes around `npm run build -w web`. */
const WEB_BUILD_LOCK = join(tmpdir(), `catalogue-web-build-${Buffer.from(root).toString('base64url').slice(-24)}.lock`);

/**
 * Holds the storefront build lock until `release()`: a web test run on this checkout rebuilds
 * web/build under it, and a build replacing the files while the storefront starts and first loads
 * its pages would break it. `flock -o` keeps the lock in flock itself, which exits (releasing it)
 * when its `cat` reads the end of its input: at release(), or when this process dies.
 */
async function holdBuildLock(log: (line: string) => void): Promise<{ release: () => Promise<void> }> {
  const child = spawn('flock', ['-o', '-w', '900', WEB_BUILD_LOCK, 'sh', '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting = setTimeout(() => log(`Storefront: waiting for the build lock ${WEB_BUILD_LOCK}`), 1_000);
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', () => resolve());
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`flock ${WEB_BUILD_LOCK} exited with ${code}`)));
    });
  } finally {
    clearTimeout(waiting);
  }
  return {
    release: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.end();
      await exited;
    },
  };
}

const mb = (n: number | undefined) => (n === undefined ? '—' : Math.round(n).toLocaleString('en'));
const ms = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en'));
const triple = (q: Quantiles) => (q.n === 0 ? '—' : `${ms(q.p50)} / ${ms(q.p95)} / ${ms(q.p99)}`);
const percent = (share: number) => `${Math.round(share * 100)}%`;
const pressureText = (p: WindowFigures['pressure']) => (p ? `${percent(p.cpu)}, ${percent(p.io)}` : '—');
const count = (n: number) => n.toLocaleString('en');
const clock = (seconds: number) => `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, '0')}`;

/** Starts what the soak needs, runs it, prints the report; the exit code (0: every check passed). */
export async function runSoak(options: SoakOptions): Promise<number> {
  const { log } = options;
  if (!(options.seconds >= MIN_WINDOWS)) throw new Error(`--soak-seconds must be at least ${MIN_WINDOWS}`);
  if (options.rate !== undefined && !(options.rate > 0)) throw new Error('--soak-rate must be a positive number');
  if (!(options.connections >= 1)) throw new Error('--connections must be at least 1');
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    // A second Ctrl-C does not wait for the orderly stop (the PostgreSQL server still stops on exit).
    if (stop.signal.aborted) process.exit(130);
    log(`${signal}: stopping the traffic and every process started`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopped = () => {
    if (stop.signal.aborted) throw new Error('stopped');
  };

  let server: EmbeddedPostgres | undefined;
  let api: { child: ChildProcess; url: string } | undefined;
  let web: { child: ChildProcess; url: string } | undefined;
  let lock: { release: () => Promise<void> } | undefined;
  try {
    log(`PostgreSQL: starting the embedded server in ${options.dataDir}`);
    server = await startEmbeddedPostgres({ dataDir: options.dataDir });
    await createDatabaseIfMissing(server, 'bench');
    const url = server.urlFor('bench');
    const database = createDatabase(url);
    let catalogue: string;
    let key: { secret: string };
    let maxProductId: number;
    try {
      await migrateDatabase(database);
      const count0 = (await database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM products')).rows[0]!.n;
      if (count0 > 0) {
        catalogue = `${count(count0)} products already in ${options.dataDir} (reused)`;
      } else {
        const products = options.products ?? SOAK_PRODUCTS;
        log(`Seeding ${count(products)} products (the data folder was empty)`);
        await seedCatalogue(database.pool, { products });
        await database.pool.query('VACUUM ANALYZE products');
        await database.pool.query('CHECKPOINT');
        catalogue = `${count(products)} products, seeded for the soak (the data folder was empty)`;
      }
      stopped();
      key = await new KeyRepository(database.db).create('soak', ['stock:write']);
      maxProductId = (await database.pool.query<{ id: number }>('SELECT max(id)::int AS id FROM products')).rows[0]!.id;
    } finally {
      await database.close();
    }
    log(`Catalogue: ${catalogue}`);

    // The metrics token turns the API's /metrics on (where the build has it), for its heap figure.
    const metricsToken = randomBytes(24).toString('base64url');
    api = await startApi(url, { METRICS_TOKEN: metricsToken });
    stopped();
    const apiPid = api.child.pid;
    const startRssMb = rssMb(apiPid);
    const tree = (await (await fetch(`${api.url}/v1/categories`)).json()) as {
      data: { slug: string; product_count: number }[];
    };
    // Categories with a few pages at least, so that a cursor has somewhere to go.
    const categories = tree.data.filter((c) => c.product_count >= PAGE_SIZE * 4).map((c) => c.slug);
    const traffic = new Traffic({ categories, maxProductId, apiKey: key.secret, runId: Date.now().toString(36) });

    // With a `timeout`, an agent also honours the server's `Keep-Alive: timeout=N` hint, closing an
    // idle socket a second before the server does (the storefront's Node server: 5 s). Without it,
    // a request sent on a socket the server is closing at that moment fails with ECONNRESET: the
    // client's doing, which a browser would retry, not the server's.
    const agents = {
      api: new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS }),
      web: new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS }),
    };
    const bases = () => ({ api: api!.url, web: web!.url });
    /** Sends one planned request; the latency counts from `due` (when it should have left). */
    const exchange = async (planned: Planned, due: number): Promise<Sample> => {
      const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(TIMEOUT_MS - (performance.now() - due))));
      let verdict: Verdict;
      try {
        const answer = await send(
          bases()[planned.target],
          agents[planned.target],
          planned,
          AbortSignal.any([timeout, stop.signal]),
        );
        verdict = answer.status >= 500 ? { error: `answered ${answer.status}` } : planned.check(answer);
      } catch (error) {
        verdict = {
          error: timeout.aborted
            ? `timed out after ${TIMEOUT_MS} ms`
            : `socket error: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        };
      }
      return { kind: planned.kind, ms: performance.now() - due, verdict };
    };
    const describe = (planned: Planned) =>
      `${planned.method} ${planned.target === 'web' ? '(storefront) ' : ''}${planned.path}`;

    // The storefront: built if web/build is stale, started, and each of its pages loaded once, under
    // the build lock (see holdBuildLock); so is every other kind of request, before any load.
    lock = await holdBuildLock(log);
    await ensureStorefrontBuilt(log);
    stopped();
    web = await startStorefront(api.url);
    const warm = new Tally();
    for (const planned of [...Array.from({ length: 20 }, () => traffic.of('browse')), ...traffic.primers()]) {
      warm.add(await exchange(planned, performance.now()), describe(planned));
    }
    await lock.release();
    lock = undefined;
    stopped();
    if (warm.errorCount > 0) {
      throw new Error(`requests failed before any load, nothing measured:\n  ${warm.examples.join('\n  ')}`);
    }

    // Capacity: the same mix from closed-loop clients, as fast as the answers come.
    let rate = options.rate;
    let capacityLine: string;
    const calibration = new Tally();
    if (rate === undefined) {
      log(
        `Capacity: ${options.connections} closed-loop clients, ${CALIBRATION_WARMUP_SECONDS} s warm-up, then ${CALIBRATION_SECONDS} s measured`,
      );
      const startedAt = performance.now();
      const measureFrom = startedAt + CALIBRATION_WARMUP_SECONDS * 1000;
      const end = measureFrom + CALIBRATION_SECONDS * 1000;
      // Answers within the measured stretch make the capacity; every answer after the warm-up
      // counts for the figures (and its errors for the check).
      let answered = 0;
      await Promise.all(
        Array.from({ length: options.connections }, async () => {
          while (performance.now() < end && !stop.signal.aborted) {
            const planned = traffic.next();
            const sample = await exchange(planned, performance.now());
            const at = performance.now();
            if (at < measureFrom || stop.signal.aborted) continue;
            calibration.add(sample, describe(planned));
            if (at <= end) answered += 1;
          }
        }),
      );
      stopped();
      const capacity = answered / CALIBRATION_SECONDS;
      rate = Math.max(1, Math.round(capacity * LOAD_FRACTION));
      capacityLine = `capacity of the mix ${count(Math.round(capacity))} req/s (${options.connections} closed-loop clients, ${CALIBRATION_SECONDS} s; p50/p95/p99 ${triple(calibration.all())} ms, ${calibration.errorCount} errors); soak rate ${LOAD_FRACTION * 100}% of it: ${count(rate)} req/s`;
    } else {
      capacityLine = `soak rate ${count(rate)} req/s (--soak-rate; capacity not measured)`;
    }
    log(capacityLine);
    const afterCalibrationRssMb = rssMb(apiPid);

    // The soak: open loop, request i due at start + i / rate.
    const windowCount = Math.max(MIN_WINDOWS, Math.round(options.seconds / WINDOW_SECONDS));
    const windowMs = (options.seconds * 1000) / windowCount;
    const heapExposed = (await heapMb(api.url, metricsToken)) !== undefined;
    const loadAtStart = loadavg();
    log(
      `Soak: ${options.seconds} s at ${count(rate)} req/s, ${windowCount} windows of ${(windowMs / 1000).toFixed(0)} s (the first one is the warm-up); mix ${KINDS.map((k) => `${k} ${MIX[k] * 100}%`).join(', ')}; search sorts ${[...new Set(SEARCH_SORTS)].join(', ')}`,
    );
    const windows: WindowFigures[] = [];
    let current = new Tally();
    let lagMs = 0;
    const inflight = new Set<Promise<void>>();
    const start = performance.now();
    let cpuAt = { time: start, api: cpuSeconds(apiPid), web: cpuSeconds(web.child.pid), stalled: stalled() };
    const closeWindow = async () => {
      const cpu = {
        time: performance.now(),
        api: cpuSeconds(apiPid),
        web: cpuSeconds(web!.child.pid),
        stalled: stalled(),
      };
      const elapsed = (cpu.time - cpuAt.time) / 1000;
      const was = cpuAt.stalled;
      const now = cpu.stalled;
      const figures: WindowFigures = {
        tally: current,
        endsAt: (windows.length + 1) * windowMs,
        apiRssMb: rssMb(apiPid),
        webRssMb: rssMb(web!.child.pid),
        apiCpu: (cpu.api - cpuAt.api) / elapsed,
        webCpu: (cpu.web - cpuAt.web) / elapsed,
        pressure:
          was && now ? { cpu: (now.cpu - was.cpu) / 1e6 / elapsed, io: (now.io - was.io) / 1e6 / elapsed } : undefined,
        lagMs,
      };
      cpuAt = cpu;
      windows.push(figures);
      current = new Tally();
      lagMs = 0;
      if (heapExposed) figures.apiHeapMb = await heapMb(api!.url, metricsToken);
      const t = figures.tally;
      log(
        `  [${windows.length}/${windowCount}] ${clock(figures.endsAt / 1000)} ${count(t.requests)} requests, ${t.errorCount} errors, ${t.refusals()} refused (409); p50/p95/p99 ms: all ${triple(t.all())}; ${KINDS.map((k) => `${k} ${triple(t.byKind(k))}`).join('; ')}; API RSS ${mb(figures.apiRssMb)} MB${heapExposed ? `, heap ${mb(figures.apiHeapMb)} MB` : ''}; storefront RSS ${mb(figures.webRssMb)} MB; CPU API ${percent(figures.apiCpu)}, storefront ${percent(figures.webCpu)}; machine pressure ${pressureText(figures.pressure)}; send lag ≤ ${ms(figures.lagMs)} ms`,
      );
    };
    const total = Math.round(rate * options.seconds);
    let sent = 0;
    let windowIndex = 0;
    const closing: Promise<void>[] = [];
    while (sent < total && !stop.signal.aborted) {
      const now = performance.now();
      // Answers arriving after a window's end count in the next one; the last one waits for all.
      if (now - start >= (windowIndex + 1) * windowMs && windowIndex < windowCount - 1) {
        windowIndex += 1;
        closing.push(closeWindow());
      }
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const dueAt = start + (sent * 1000) / rate;
        lagMs = Math.max(lagMs, now - dueAt);
        const planned = traffic.next();
        const done = exchange(planned, dueAt).then((sample) => {
          if (!stop.signal.aborted) current.add(sample, describe(planned));
          inflight.delete(done);
        });
        inflight.add(done);
      }
      const nextDue = start + (sent * 1000) / rate;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextDue - performance.now())));
    }
    await Promise.all(inflight);
    stopped();
    closing.push(closeWindow());
    await Promise.all(closing);
    const loadAtEnd = loadavg();

    // The report.
    const warmup = windows[0]!;
    const measured = windows.slice(1);
    const overall = new Tally();
    for (const w of measured) overall.merge(w.tally);
    const everything = new Tally();
    everything.merge(calibration);
    for (const w of windows) everything.merge(w.tally);
    const seconds = (options.seconds * (windowCount - 1)) / windowCount;
    const verdicts = checks(everything, windows);
    const lines = [
      '',
      `Soak: ${options.seconds} s (${windowCount} windows of ${(windowMs / 1000).toFixed(0)} s, the first one a warm-up) of open-loop mixed traffic; ${capacityLine}.`,
      `Catalogue: ${catalogue}. API: bench/server.ts (response cache on, no rate limits); storefront: web/server. Node ${process.version}, ${cpus().length} cores; load average ${loadAtStart[0]!.toFixed(2)} at the start, ${loadAtEnd[0]!.toFixed(2)} at the end.`,
      `Mix: ${KINDS.map((k) => `${k} ${MIX[k] * 100}%`).join(', ')}; search sorts ${[...new Set(SEARCH_SORTS)].join(', ')}. Latency counts from the moment each request was due; timeout ${TIMEOUT_MS / 1000} s. p50 / p95 / p99 in ms. CPU: what the process used in the window, 100% being one core. Pressure: the share of the window in which some task on the machine waited for a CPU, or for IO (/proc/pressure), whoever's it was.`,
      '',
      `| window | requests | errors | 409 refused | ${KINDS.join(' | ')} | all | API RSS MB | API heap MB | storefront RSS MB | CPU API, storefront | pressure CPU, IO |`,
      `| --- | ---: | ---: | ---: | ${KINDS.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: | ---: | ---: |`,
      ...windows.map(
        (w, i) =>
          `| ${i === 0 ? 'warm-up, ' : ''}to ${clock(w.endsAt / 1000)} | ${count(w.tally.requests)} | ${w.tally.errorCount} | ${w.tally.refusals()} | ${KINDS.map((k) => triple(w.tally.byKind(k))).join(' | ')} | ${triple(w.tally.all())} | ${mb(w.apiRssMb)} | ${mb(w.apiHeapMb)} | ${mb(w.webRssMb)} | ${percent(w.apiCpu)}, ${percent(w.webCpu)} | ${pressureText(w.pressure)} |`,
      ),
      '',
      '| after the warm-up | share | requests | req/s | p50 ms | p95 ms | p99 ms | 409 refused | replays | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...KINDS.map((k) => {
        const q = overall.byKind(k);
        const errors = [...overall.errors]
          .filter(([reason]) => reason.startsWith(`${k}:`))
          .reduce((s, [, n]) => s + n, 0);
        return `| ${k} | ${MIX[k] * 100}% | ${count(q.n)} | ${(q.n / seconds).toFixed(1)} | ${ms(q.p50)} | ${ms(q.p95)} | ${ms(q.p99)} | ${overall.refused.get(k) ?? 0} | ${overall.replayed.get(k) ?? 0} | ${errors} |`;
      }),
      (() => {
        const q = overall.all();
        return `| all | | ${count(q.n)} | ${(q.n / seconds).toFixed(1)} | ${ms(q.p50)} | ${ms(q.p95)} | ${ms(q.p99)} | ${overall.refusals()} | ${[...overall.replayed.values()].reduce((s, n) => s + n, 0)} | ${overall.errorCount} |`;
      })(),
      '',
      `API resident memory: ${mb(startRssMb)} MB at its start, ${mb(afterCalibrationRssMb)} MB after the capacity measurement, ${mb(warmup.apiRssMb)} MB at the end of the warm-up, ${mb(windows.at(-1)!.apiRssMb)} MB at the end.${heapExposed ? '' : ' Heap: not exposed (no /metrics).'} Send lag at worst ${ms(Math.max(...windows.map((w) => w.lagMs)))} ms.`,
      '',
      ...verdicts.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.label}: ${c.detail}`),
      ...(everything.errorCount > 0
        ? [
            '',
            'Errors by kind:',
            ...[...everything.errors].map(([r, n]) => `  ${r}: ${n}`),
            'First ones:',
            ...everything.examples.map((e) => `  ${e}`),
          ]
        : []),
      '',
    ];
    console.log(lines.join('\n'));
    return verdicts.every((c) => c.pass) ? 0 : 1;
  } catch (error) {
    if (stop.signal.aborted) {
      log('Stopped before the end: no figures.');
      return 130;
    }
    throw error;
  } finally {
    await lock?.release();
    await stopProcess(web?.child);
    await stopProcess(api?.child);
    await server?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * - Zero errors, from the first request (the warm-up and the capacity measurement included) to
 *   the last: a soak that fails requests has nothing else to say.
 * - p99 stable, on all requests together (per kind, a window of stock writes holds too few
 *   requests for its p99 to mean much), over the windows after the warm-up: the last within
 *   P99_LAST_OVER_FIRST of the first (a drift: queues, bloat, a leak slowing the collector), and
 *   none above P99_OVER_MEDIAN times their median (a spike: a stall, a checkpoint, a long GC). 1.5
 *   and 2 because a shared 2-core machine moves a p99 by tens of percent from one minute to the
 *   next with nothing wrong; a real drift or stall moves it by more.
 * - API memory flat: resident memory at the end within RSS_GROWTH of what it was at the end of the
 *   warm-up, once the JIT, the pools and the bounded caches (the 1 s response cache holds up to
 *   64 MB) have had a window of the soak's own traffic to settle.
 */
function checks(everything: Tally, windows: WindowFigures[]): { label: string; pass: boolean; detail: string }[] {
  const p99s = windows.slice(1).map((w) => w.tally.all().p99);
  const first = p99s[0]!;
  const last = p99s.at(-1)!;
  const sorted = [...p99s].sort((a, b) => a - b);
  const median =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]!
      : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const highest = Math.max(...p99s);
  const warm = windows[0]!.apiRssMb;
  const end = windows.at(-1)!.apiRssMb;
  const growth = end / warm - 1;
  return [
    {
      label: 'zero errors',
      pass: everything.errorCount === 0,
      detail: `${count(everything.errorCount)} errors in ${count(everything.requests)} requests (capacity measurement and soak)`,
    },
    {
      label: `p99 stable (last window ≤ ${P99_LAST_OVER_FIRST} × the first after the warm-up)`,
      pass: last <= first * P99_LAST_OVER_FIRST,
      detail: `${ms(last)} ms against ${ms(first)} ms: ${(last / first).toFixed(2)} ×`,
    },
    {
      label: `p99 stable (no window above ${P99_OVER_MEDIAN} × the median window)`,
      pass: highest <= median * P99_OVER_MEDIAN,
      detail: `highest ${ms(highest)} ms, median ${ms(median)} ms: ${(highest / median).toFixed(2)} ×`,
    },
    {
      label: `API memory flat (RSS growth after the warm-up < ${RSS_GROWTH * 100}%)`,
      pass: growth < RSS_GROWTH,
      detail: `${mb(warm)} MB at the end of the warm-up, ${mb(end)} MB at the end: ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%`,
    },
  ];
}
