import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot } from '../../../api/test/support/process.ts';

/** vitest globalSetup for the web project: build the storefront once, before any file runs. */
export default async function setup() {
  await promisify(execFile)('npm', ['run', 'build', '-w', 'web'], { cwd: repoRoot });
}
