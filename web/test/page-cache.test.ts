import { request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createPageServer, MAX_PAGE_BYTES, negotiate, PageCache } from '../server/page-cache.js';

type Answer = {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  delayMs?: number;
};

/**
 * A stand-in for adapter-node's handler, writing as SvelteKit's setResponse does (setHeader each
 * header, writeHead(status), write chunks, end), behind the real page cache on a real server.
 */
async function serve(answer: (req: IncomingMessage) => Answer, cache = new PageCache(60_000)) {
  const renders: string[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    renders.push(req.url!);
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    const { status = 200, headers = {}, body = '', delayMs = 0 } = answer(req);
    setTimeout(() => {
      inFlight -= 1;
      for (const [name, value] of Object.entries({ 'content-type': 'text/html', ...headers }))
        res.setHeader(name, value);
      res.writeHead(status);
      const bytes = Buffer.from(body);
      // Two chunks, as a stream would give them.
      res.write(bytes.subarray(0, bytes.length >> 1));
      res.write(bytes.subarray(bytes.length >> 1));
      res.end();
    }, delayMs);
  };
  const server = createPageServer(handler, cache, { keyHeaders: ['host', 'accept-language', 'cookie'] });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, renders, mostInFlight: () => mostInFlight, cache };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const PUBLIC = { 'cache-control': 'public, max-age=10', vary: 'Accept-Language, Cookie', etag: '"v1"' };
const page = (n = 2_000) => `<p>${'x'.repeat(n)}</p>`;
/** A request with node:http (fetch would decode the body): the status, headers and bytes as sent. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: Headers; bytes: Buffer; text: () => Promise<string> }>(
    (resolve, reject) => {
      const req = request(url, { method, headers: { 'accept-encoding': 'identity', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          const all = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') all.set(name, value);
          resolve({ status: res.statusCode!, headers: all, bytes, text: async () => bytes.toString() });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('the storefront page cache', () => {
  it('renders a public page once and sends the same bytes again, with Age, until it expires', async () => {
    const { url, renders } = await serve(() => ({ headers: PUBLIC, body: page() }), new PageCache(300));
    const first = await get(`${url}/c/x?page=2`);
    expect(first.headers.get('age')).toBeNull();
    const firstBody = await first.text();
    const second = await get(`${url}/c/x?page=2`);
    expect(second.headers.get('age')).toBe('0');
    expect(second.headers.get('content-length')).toBe(String(Buffer.byteLength(firstBody)));
    expect(second.headers.get('cache-control')).toBe('public, max-age=10');
    expect(await second.text()).toBe(firstBody);
    expect(renders).toEqual(['/c/x?page=2']);
    // Another URL, another page.
    await (await get(`${url}/c/x?page=3`)).text();
    expect(renders).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 350));
    await (await get(`${url}/c/x?page=2`)).text();
    expect(renders).toEqual(['/c/x?page=2', '/c/x?page=3', '/c/x?page=2']);
  });

  it('keys on the headers a page varies on: language and cookie', async () => {
    const { url, renders } = await serve((req) => ({
      headers: PUBLIC,
      body: `lang ${req.headers['accept-language']}`,
    }));
    const fr = await (await get(`${url}/`, { 'accept-language': 'fr' })).text();
    const en = await (await get(`${url}/`, { 'accept-language': 'en' })).text();
    expect([fr, en]).toEqual(['lang fr', 'lang en']);
    await (await get(`${url}/`, { 'accept-language': 'fr', cookie: 'lang=en' })).text();
    expect(await (await get(`${url}/`, { 'accept-language': 'fr' })).text()).toBe('lang fr');
    expect(renders).toHaveLength(3);
  });

  it('under a burst on one page, one request renders it and the others get its bytes', async () => {
    const { url, renders } = await serve(() => ({ headers: PUBLIC, body: page(), delayMs: 100 }));
    const bodies = await Promise.all(Array.from({ length: 20 }, () => get(`${url}/products`).then((r) => r.text())));
    expect(renders).toHaveLength(1);
    expect(new Set(bodies).size).toBe(1);
  });

  it.each([
    ['private', { headers: { ...PUBLIC, 'cache-control': 'private, no-store' } }],
    ['public without max-age but no-cache', { headers: { ...PUBLIC, 'cache-control': 'public, no-cache' } }],
    ['setting a cookie', { headers: { ...PUBLIC, 'set-cookie': 'lang=fr' } }],
    ['not a 200', { status: 404, headers: PUBLIC }],
    ['varying on a header not in the key', { headers: { ...PUBLIC, vary: 'Accept-Language, User-Agent' } }],
    ['already stale (max-age=0)', { headers: { ...PUBLIC, 'cache-control': 'public, max-age=0' } }],
    [
      'encoded by the handler for this client',
      { headers: { ...PUBLIC, 'content-encoding': 'br', vary: 'Accept-Language, Cookie, Accept-Encoding' } },
    ],
  ])('keeps nothing %s, and its requests do not wait for one another', async (_, answer: Answer) => {
    const { url, renders, mostInFlight } = await serve(() => ({ body: page(), delayMs: 50, ...answer }));
    await (await get(`${url}/p/x`)).text();
    await Promise.all(Array.from({ length: 5 }, () => get(`${url}/p/x`).then((r) => r.text())));
    expect(renders).toHaveLength(6);
    expect(mostInFlight()).toBeGreaterThan(1);
  });

  it('keeps nothing with a TTL of 0, and still compresses', async () => {
    const { url, renders } = await serve(() => ({ headers: PUBLIC, body: page() }), new PageCache(0));
    for (let i = 0; i < 3; i++) {
      const response = await get(`${url}/`, { 'accept-encoding': 'br' });
      expect(response.headers.get('content-encoding')).toBe('br');
    }
    expect(renders).toHaveLength(3);
  });

  it('sends text in the encoding accepted (Brotli, then gzip), the same page once decoded', async () => {
    const body = page(20_000);
    const { url } = await serve(() => ({ headers: PUBLIC, body }));
    for (const round of ['rendered', 'kept']) {
      const br = await get(`${url}/`, { 'accept-encoding': 'gzip, deflate, br' });
      expect(br.headers.get('content-encoding'), round).toBe('br');
      expect(br.headers.get('vary')).toBe('Accept-Language, Cookie, Accept-Encoding');
      expect(br.headers.get('etag')).toBe('W/"v1"');
      const brBytes = Buffer.from(br.bytes);
      expect(Number(br.headers.get('content-length'))).toBe(brBytes.length);
      expect(brBytes.length).toBeLessThan(body.length / 10);
      expect(brotliDecompressSync(brBytes).toString()).toBe(body);

      const gzip = await get(`${url}/`, { 'accept-encoding': 'gzip;q=0.8, br;q=0' });
      expect(gzip.headers.get('content-encoding')).toBe('gzip');
      expect(gunzipSync(gzip.bytes).toString()).toBe(body);

      const plain = await get(`${url}/`, { 'accept-encoding': 'identity' });
      expect(plain.headers.get('content-encoding')).toBeNull();
      expect(plain.headers.get('etag')).toBe('"v1"');
      expect(await plain.text()).toBe(body);
    }
  });

  it('compresses neither images nor small answers', async () => {
    const { url } = await serve((req) =>
      req.url === '/image'
        ? { headers: { ...PUBLIC, 'content-type': 'image/png' }, body: Buffer.alloc(5_000, 7) }
        : { headers: PUBLIC, body: 'tiny' },
    );
    for (const path of ['/image', '/tiny']) {
      const response = await get(`${url}${path}`, { 'accept-encoding': 'br, gzip' });
      expect(response.headers.get('content-encoding')).toBeNull();
    }
  });

  it('answers If-None-Match with 304 from a kept page, and HEAD without a body', async () => {
    const { url, renders } = await serve(() => ({ headers: PUBLIC, body: page() }));
    await (await get(`${url}/`)).text();
    const revalidated = await get(`${url}/`, { 'if-none-match': '"v0", W/"v1"' });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.get('etag')).toBe('"v1"');
    expect(revalidated.headers.get('cache-control')).toBe('public, max-age=10');
    expect(await revalidated.text()).toBe('');
    // A reload asks past every cache's copy (RFC 9111 5.2.1.4): the page itself.
    const reloaded = await get(`${url}/`, { 'if-none-match': '"v1"', 'cache-control': 'no-cache' });
    expect(reloaded.status).toBe(200);
    const head = await get(`${url}/`, {}, 'HEAD');
    expect(head.headers.get('content-length')).toBe(String(page().length));
    expect(await head.text()).toBe('');
    expect(renders).toHaveLength(1);
  });

  it('streams an answer larger than it holds, without keeping it', async () => {
    const body = 'y'.repeat(MAX_PAGE_BYTES + 10);
    const { url, renders } = await serve(() => ({ headers: PUBLIC, body }));
    for (let i = 0; i < 2; i++) {
      const response = await get(`${url}/big`, { 'accept-encoding': 'br' });
      expect(response.headers.get('content-encoding')).toBeNull();
      expect((await response.text()).length).toBe(body.length);
    }
    expect(renders).toHaveLength(2);
  });

  it.each([
    ['held', 2_000],
    ['streamed past the bound', MAX_PAGE_BYTES + 10],
  ])('calls the write and end callbacks of an answer %s', async (_, length) => {
    const called: string[] = [];
    const handler = (_req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'text/html');
      res.writeHead(200);
      res.write(Buffer.alloc(length, 'a'), () => called.push('write'));
      res.end('!', () => called.push('end'));
    };
    const server = createPageServer(handler, new PageCache(1_000), { keyHeaders: ['host'] });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const response = await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(response.bytes.length).toBe(length + 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(called).toEqual(['write', 'end']);
  });

  it('drops a page once it expires, and keeps no more than its bound', async () => {
    const cache = new PageCache(50, 5);
    const { url } = await serve((req) => ({ headers: PUBLIC, body: `page ${req.url}` }), cache);
    for (let i = 0; i < 8; i++) await (await get(`${url}/c/${i}`)).text();
    expect(cache.size).toBe(5);
    await new Promise((resolve) => setTimeout(resolve, 60));
    // Never asked for again, the expired pages are gone all the same.
    expect(cache.size).toBe(0);
    await (await get(`${url}/c/new`)).text();
    expect(cache.size).toBe(1);
  });

  it('negotiates Accept-Encoding as RFC 9110 says', () => {
    expect(negotiate(undefined)).toBe('identity');
    expect(negotiate('gzip, deflate, br, zstd')).toBe('br');
    expect(negotiate('gzip')).toBe('gzip');
    expect(negotiate('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(negotiate('*')).toBe('br');
    expect(negotiate('*;q=0, identity')).toBe('identity');
    expect(negotiate('deflate')).toBe('identity');
  });
});
