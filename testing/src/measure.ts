import type { CDPSession, Page } from 'playwright-core';
import { launchChromium } from './browser.ts';

export interface ListingBytes {
  path: string;
  /** Everything but images for the first load of the listing page (HTML, CSS, JS, data). */
  firstLoad: number;
  /** Of which JavaScript. */
  firstLoadJs: number;
  /** Everything but images for each further page reached by its rel="next" link. */
  nextPages: number[];
}

/** Bytes on the wire per CDP (`Network.loadingFinished`'s `encodedDataLength`), images left out. */
class Wire {
  private types = new Map<string, string>();
  private bytes: { type: string; length: number }[] = [];
  /** Requests sent and not yet finished, and when the last one finished. */
  private inFlight = new Set<string>();
  private lastChange = performance.now();

  constructor(cdp: CDPSession) {
    cdp.on('Network.requestWillBeSent', (event) => {
      this.inFlight.add(event.requestId);
      this.lastChange = performance.now();
    });
    cdp.on('Network.responseReceived', (event) => this.types.set(event.requestId, event.type));
    cdp.on('Network.loadingFinished', (event) => {
      this.bytes.push({ type: this.types.get(event.requestId) ?? 'Other', length: event.encodedDataLength });
      this.done(event.requestId);
    });
    cdp.on('Network.loadingFailed', (event) => this.done(event.requestId));
  }

  private done(requestId: string) {
    this.inFlight.delete(requestId);
    this.lastChange = performance.now();
  }

  /**
   * Resolves once every request sent has finished and none has started for `quietMs`. A
   * client-side navigation changes the URL when its data has arrived, but CDP may report that
   * response's end a moment later (and Playwright's `networkidle` was already reached on the
   * first load, so it does not wait): each step waits for quiet, so that its late bytes are
   * counted in it and not in the next one.
   */
  async quiet(quietMs = 300, timeoutMs = 15_000) {
    const deadline = performance.now() + timeoutMs;
    while (this.inFlight.size > 0 || performance.now() - this.lastChange < quietMs) {
      if (performance.now() > deadline) throw new Error(`requests still in flight after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** What arrived since the last call: total and JavaScript, images excluded. */
  take() {
    const taken = this.bytes.splice(0).filter((b) => b.type !== 'Image');
    return {
      total: taken.reduce((sum, b) => sum + b.length, 0),
      js: taken.filter((b) => b.type === 'Script').reduce((sum, b) => sum + b.length, 0),
    };
  }
}

const settle = (page: Page) => page.waitForLoadState('networkidle');

/**
 * Opens a listing page in a fresh Chromium profile (nothing cached), then follows its
 * rel="next" link `nextPages` times, as a shopper would, and reports the bytes each step took.
 * Used by the browser tests (against the budgets) and by the benchmark (to compare catalogue sizes).
 */
export async function measureListingBytes(
  baseUrl: string,
  { path = '/products', nextPages = 3 }: { path?: string; nextPages?: number } = {},
): Promise<ListingBytes> {
  const chromium = launchChromium();
  try {
    const context = await chromium.context();
    const page = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(page);
    const wire = new Wire(cdp);
    await cdp.send('Network.enable');

    await page.goto(new URL(path, baseUrl).toString());
    await settle(page);
    await wire.quiet();
    const first = wire.take();

    const next: number[] = [];
    for (let i = 0; i < nextPages; i += 1) {
      const link = page.locator('a[rel="next"]').first();
      if ((await link.count()) === 0) break;
      const before = page.url();
      await link.click();
      await page.waitForURL((url) => url.toString() !== before);
      await settle(page);
      await wire.quiet();
      next.push(wire.take().total);
    }
    return { path, firstLoad: first.total, firstLoadJs: first.js, nextPages: next };
  } finally {
    await chromium.close();
  }
}
