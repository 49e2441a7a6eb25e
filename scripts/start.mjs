#!/usr/bin/env node
// `npm start`: the API (with its embedded PostgreSQL unless DATABASE_URL is set) and the built
// storefront, side by side. Ctrl-C or SIGTERM stops both; the API stops its PostgreSQL last.
// Each child runs in its own process group so that a terminal's Ctrl-C reaches only this
// launcher, which then stops the children in order instead of all at once.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const apiPort = process.env.API_PORT || '3001';
const webPort = process.env.WEB_PORT || '3000';
const host = process.env.API_HOST || '127.0.0.1';
const webHost = process.env.WEB_HOST || '127.0.0.1';
const apiUrl = `http://${host}:${apiPort}`;

const children = new Map();
let stopping = false;

function start(name, args, env) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    // Anything the child left in its group (it should have stopped it) goes with it.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping.`);
      stop(code || 1);
    } else if (children.size === 0) {
      process.exit(process.exitCode ?? 0);
    }
  });
  return child;
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  if (children.size === 0) process.exit(code);
  // The storefront first (it only calls the API), then the API, which stops PostgreSQL.
  children.get('web')?.kill('SIGTERM');
  children.get('api')?.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, 15_000).unref();
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

// The storefront calls the API from this machine and forwards each shopper's address: trust it
// from here, so that shoppers do not share one rate-limit budget.
start('api', ['--import', 'tsx', 'api/src/server.ts'], {
  API_PORT: apiPort,
  API_HOST: host,
  TRUST_PROXY: process.env.TRUST_PROXY ?? '127.0.0.1,::1',
});
start('web', ['web/server/index.js'], {
  PORT: webPort,
  HOST: webHost,
  API_URL: process.env.API_URL || apiUrl,
  ORIGIN: process.env.ORIGIN || `http://${webHost === '0.0.0.0' ? 'localhost' : webHost}:${webPort}`,
});

// Announce the URLs once the API is ready (a first start seeds the demo catalogue first).
const deadline = Date.now() + 10 * 60_000;
while (!stopping && Date.now() < deadline) {
  const ready = await fetch(`${apiUrl}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) {
    console.log(`\n  Storefront  http://${webHost}:${webPort}\n  API         ${apiUrl}  (docs: ${apiUrl}/docs)\n`);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}
