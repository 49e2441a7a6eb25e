import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`): nothing is downloaded at install or run time. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags every headless launch here takes: no sandbox as root, no background traffic on a closed network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Chromium {
  /** A fresh, isolated browser profile (cookies, cache): one per simulated shopper or admin. */
  context(options?: Parameters<typeof chromium.launchPersistentContext>[1]): Promise<BrowserContext>;
  close(): Promise<void>;
}

/**
 * Each context is its own Chromium process with a fresh user-data-dir, so two contexts are two
 * browsers as far as the storefront can tell. `close()` stops every one of them.
 */
export function launchChromium(): Chromium {
  const open: { context: BrowserContext; dir: string }[] = [];
  return {
    async context(options = {}) {
      const dir = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
      const context = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
        headless: true,
        viewport: { width: 1280, height: 800 },
        ...options,
      });
      open.push({ context, dir });
      return context;
    },
    async close() {
      for (const { context, dir } of open.splice(0)) {
        await context.close().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
