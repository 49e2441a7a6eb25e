import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * The processes a test starts (the API, the storefront, the commands) and how to wait for them:
 * every one from the repository root, on ports the system picks, its output kept for the failure
 * message.
 */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Starts a Node process from the repository root, capturing its output. */
export function startNode(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, output: () => output, exited };
}

export async function waitFor(url: string, timeoutMs: number, running?: Running): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (running && running.child.exitCode !== null) {
      throw new Error(`process exited before ${url} answered:\n${running.output()}`);
    }
    const response = await fetch(url).catch(() => undefined);
    if (response?.ok) return response;
    if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs} ms:\n${running?.output() ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A port free on 127.0.0.1 now (the system's pick: fixed ports collide with other programs). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
