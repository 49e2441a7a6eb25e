import { describe, expect, it } from 'vitest';
import { PageCache } from '../src/lib/server/page-cache.ts';

const page = (body: string, headers: Record<string, string> = {}, status = 200) =>
  new Response(body, { status, headers: { 'cache-control': 'public, max-age=10', ...headers } });

describe('the storefront page cache', () => {
  it('serves a public page again, the same bytes, until it expires', async () => {
    const cache = new PageCache(50);
    expect(await (await cache.keep('en /c/x', page('first'))).text()).toBe('first');
    expect(await cache.get('en /c/x')?.clone().text()).toBe('first');
    // Served twice: each hit is its own copy of the body.
    expect(await cache.get('en /c/x')?.clone().text()).toBe('first');
    expect(cache.get('fr /c/x')).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(cache.get('en /c/x')).toBeUndefined();
  });

  it('keeps nothing private, nothing setting a cookie, nothing but a 200, nothing with a TTL of 0', async () => {
    const cache = new PageCache(1_000);
    await cache.keep('a', page('x', { 'cache-control': 'no-cache' }));
    await cache.keep('b', page('x', { 'set-cookie': 'lang=fr' }));
    await cache.keep('c', page('x', {}, 404));
    await new PageCache(0).keep('d', page('x'));
    for (const key of ['a', 'b', 'c', 'd']) expect(cache.get(key)).toBeUndefined();
  });

  it('drops expired pages as new ones are kept, and keeps no more than its bound', async () => {
    const cache = new PageCache(50, 5);
    for (let i = 0; i < 8; i++) await cache.keep(`en /c/${i}`, page(`page ${i}`));
    expect(cache.size).toBe(5);
    expect(cache.get('en /c/2')).toBeUndefined();
    expect(await cache.get('en /c/7')?.clone().text()).toBe('page 7');
    await new Promise((resolve) => setTimeout(resolve, 60));
    // Never asked for again, the expired pages go when the next one is kept.
    await cache.keep('en /c/new', page('new'));
    expect(cache.size).toBe(1);
  });
});
