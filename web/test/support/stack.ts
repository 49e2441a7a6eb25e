import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNode, waitFor, type Running } from '@catalogue/testing/process';

export interface Stack {
  web: string;
  api: string;
  /** The admin key (all scopes) the API makes on its first start. */
  adminKey: string;
  stop(): Promise<void>;
}

/**
 * The storefront as `npm start` runs it (scripts/start.mjs: the API on a fresh embedded
 * PostgreSQL seeded with `products` demo products, and the BUILT storefront), on free ports of
 * 127.0.0.1. `stop()` sends SIGTERM, waits for the launcher (which stops the storefront, then the
 * API, then PostgreSQL) and removes the data.
 */
export async function startStack({
  products = 10_000,
  env = {},
}: { products?: number; env?: Record<string, string> } = {}): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'catalogue-stack-'));
  const [apiPort, webPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const web = `http://127.0.0.1:${webPort}`;
  const launcher: Running = startNode(['scripts/start.mjs'], {
    DATA_DIR: dataDir,
    API_PORT: String(apiPort),
    WEB_PORT: String(webPort),
    SEED_PRODUCTS: String(products),
    LOG_LEVEL: 'warn',
    ...env,
  });
  const stop = async () => {
    if (launcher.child.exitCode === null && launcher.child.signalCode === null) {
      launcher.child.kill('SIGTERM');
      const timer = setTimeout(() => launcher.child.kill('SIGKILL'), 20_000);
      await launcher.exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${api}/readyz`, 120_000, launcher);
    for (let tries = 0; !/cat_\S+/.test(launcher.output()) && tries < 200; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const adminKey = launcher.output().match(/cat_\S+/)?.[0];
    if (!adminKey) throw new Error(`no admin key printed:\n${launcher.output()}`);
    await waitFor(`${web}/`, 60_000, launcher);
    return { web, api, adminKey, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
