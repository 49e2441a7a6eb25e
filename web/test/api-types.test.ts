import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { repoRoot } from '@catalogue/testing/process';

it('the storefront’s API types are generated from openapi.yaml (run `npm run openapi` after changing it)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'api-types-'));
  try {
    const fresh = join(dir, 'api-types.d.ts');
    await promisify(execFile)(join(repoRoot, 'node_modules/.bin/openapi-typescript'), ['openapi.yaml', '-o', fresh], {
      cwd: repoRoot,
    });
    const committed = await readFile(join(repoRoot, 'web/src/lib/server/api-types.d.ts'), 'utf8');
    expect(committed).toBe(await readFile(fresh, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
