import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@catalogue/testing/process';

/**
 * vitest globalSetup for the web project: build the storefront once, before any file runs. Two
 * test runs started at once on one checkout take turns (flock): two builds writing web/build
 * together would leave a mix of both.
 */
export default async function setup() {
  const lock = join(tmpdir(), `catalogue-web-build-${Buffer.from(repoRoot).toString('base64url').slice(-24)}.lock`);
  await promisify(execFile)('flock', [lock, 'npm', 'run', 'build', '-w', 'web'], { cwd: repoRoot });
}
