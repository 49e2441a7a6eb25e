import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, freePort, startNode, waitFor, type Running } from '@catalogue/testing/process';

// Every test here runs the storefront as built from the current source (web/test/support/build.ts).
/**
 * The storefront as `npm start` runs it: the launcher starts the API (on its embedded PostgreSQL)
 * and the built storefront; the pages are read as a browser without JavaScript gets them.
 */
describe('storefront first page, through `npm start`', () => {
  let dataDir: string;
  let launcher: Running;
  let web: string;
  let api: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'catalogue-web-'));
    const [apiPort, webPort] = [await freePort(), await freePort()];
    api = `http://127.0.0.1:${apiPort}`;
    web = `http://127.0.0.1:${webPort}`;
    launcher = startNode(['scripts/start.mjs'], {
      DATA_DIR: dataDir,
      API_PORT: String(apiPort),
      WEB_PORT: String(webPort),
      SEED_PRODUCTS: '120',
    });
    await waitFor(`${api}/readyz`, 90_000, launcher);
    await waitFor(`${web}/`, 90_000, launcher);
    // The launcher announces the URLs once it has seen the API ready.
    for (let tries = 0; !launcher.output().includes('Storefront') && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    launcher?.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  const productIds = (html: string) => [...html.matchAll(/data-product-id="(\d+)"/g)].map((m) => Number(m[1]));
  /** A link's target as a browser resolves it against the page's URL. */
  const link = (html: string, rel: 'next' | 'prev', page: string) => {
    const href = html.match(new RegExp(`<a rel="${rel}" href="([^"]+)"`))?.[1]?.replaceAll('&amp;', '&');
    return href === undefined ? undefined : new URL(href, page).toString();
  };
  const apiPage = async (cursor?: string) =>
    (await (await fetch(`${api}/v1/products?limit=24${cursor ? `&cursor=${cursor}` : ''}`)).json()) as {
      data: { id: number; name: string }[];
      next_cursor: string | null;
    };

  it('prints both URLs', () => {
    expect(launcher.output()).toContain(`Storefront  ${web}`);
    expect(launcher.output()).toContain(`API         ${api}`);
  });

  it('renders the first page of products on the server, with a plain next link', async () => {
    const response = await fetch(`${web}/`);
    expect(response.status).toBe(200);
    const html = await response.text();
    const expected = await apiPage();
    expect(productIds(html)).toEqual(expected.data.map((p) => p.id));
    expect(html).toContain(expected.data[0]!.name.replaceAll('&', '&amp;'));
    expect(link(html, 'prev', `${web}/`)).toBeUndefined();
    expect(link(html, 'next', `${web}/`)).toMatch(new RegExp(`^${web}/\\?cursor=`));
  });

  it('pages forward and back with links alone, each URL reproducing its page', async () => {
    const first = await (await fetch(`${web}/`)).text();
    const secondUrl = link(first, 'next', `${web}/`)!;
    const second = await (await fetch(secondUrl)).text();
    const expected = await apiPage((await apiPage()).next_cursor!);
    expect(productIds(second)).toEqual(expected.data.map((p) => p.id));
    expect(productIds(second).some((id) => productIds(first).includes(id))).toBe(false);
    // The URL alone reproduces the page.
    expect(productIds(await (await fetch(secondUrl)).text())).toEqual(productIds(second));
    const back = await (await fetch(link(second, 'prev', secondUrl)!)).text();
    expect(productIds(back)).toEqual(productIds(first));
  });

  it('serves product images through its own origin', async () => {
    const html = await (await fetch(`${web}/`)).text();
    const src = html.match(/<img src="([^"]+)"/)?.[1];
    expect(src).toMatch(/^\/media\/placeholder\/.+\.svg$/);
    const image = await fetch(`${web}${src}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/svg+xml');
    expect(await image.text()).toMatch(/^<svg /);
  });

  it('sends pages compressed, keeps listings a moment, and never keeps a product page (live stock)', async () => {
    /** The answer's headers and its bytes as sent (node:http: fetch would decode them). */
    const raw = (path: string) =>
      new Promise<{ headers: import('node:http').IncomingHttpHeaders; bytes: Buffer }>((resolve, reject) => {
        request(`${web}${path}`, { headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ headers: res.headers, bytes: Buffer.concat(chunks) }));
        })
          .on('error', reject)
          .end();
      });
    const listing = await raw('/products?sort=name_asc');
    expect(listing.headers['content-encoding']).toBe('br');
    expect(listing.headers.vary).toBe('Accept-Language, Cookie, Accept-Encoding');
    const html = brotliDecompressSync(listing.bytes).toString();
    expect(productIds(html)).toHaveLength(24);
    expect(listing.bytes.length).toBeLessThan(html.length / 3);
    // Asked again within the second: the same bytes, from the page cache.
    const again = await raw('/products?sort=name_asc');
    expect(again.headers.age).toBeDefined();
    expect(again.bytes.equals(listing.bytes)).toBe(true);

    const slug = html.match(/href="\/p\/([^"]+)"/)![1]!;
    for (let i = 0; i < 2; i++) {
      const product = await raw(`/p/${slug}`);
      expect(product.headers['content-encoding']).toBe('br');
      expect(product.headers.age).toBeUndefined();
    }
  });

  it('answers an edited page link with a 400 page that leads back', async () => {
    const response = await fetch(`${web}/?cursor=not-a-cursor`);
    expect(response.status).toBe(400);
    const home = (await response.text()).match(/<a href="([^"]+)">Back to/)?.[1];
    expect(new URL(home!, `${web}/?cursor=not-a-cursor`).toString()).toBe(`${web}/`);
  });

  it('stops the storefront, the API and PostgreSQL on SIGTERM', async () => {
    const pid = Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(alive(pid)).toBe(true);
    launcher.child.kill('SIGTERM');
    expect(await launcher.exited).toBe(0);
    expect(alive(pid)).toBe(false);
    await expect(fetch(`${web}/`)).rejects.toThrow();
    await expect(fetch(`${api}/healthz`)).rejects.toThrow();
  });
});

describe('storefront without its API', () => {
  it('answers 503 with a page that says so, rather than failing', async () => {
    const port = await freePort();
    const web = startNode(['web/server/index.js'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      API_URL: 'http://127.0.0.1:1',
      ORIGIN: `http://127.0.0.1:${port}`,
    });
    try {
      const deadline = Date.now() + 30_000;
      let response: Response | undefined;
      while (!response && Date.now() < deadline) {
        response = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        if (!response) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(response?.status).toBe(503);
      expect(await response!.text()).toContain('unavailable right now');
    } finally {
      web.child.kill('SIGTERM');
      await web.exited;
    }
  });
});
