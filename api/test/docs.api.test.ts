import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, repoRoot, startNode, waitFor, type Running } from '@catalogue/testing/process';

/**
 * docs/api.md is a tour a newcomer follows with curl on a fresh `npm start`. Its ```sh blocks run
 * here as written, in order, in one shell, against the API started as `npm start` starts it (the
 * embedded PostgreSQL, the demo catalogue of the first start). Only the address changes: the
 * doc's `http://127.0.0.1:3001` becomes this test's free port.
 */
const DOC_ADDRESS = 'http://127.0.0.1:3001';
/** A curl that does not fail on an error status states the status it expects: `# → 304`. */
const EXPECTED_STATUS = /#\s*→\s*(\d{3})\b/;

const doc = await readFile(join(repoRoot, 'docs/api.md'), 'utf8');
const blocks = [...doc.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);

/** Shell commands, continuation lines joined. */
const commands = (block: string) => block.replace(/\\\n/g, ' ').split('\n').filter((line) => line.trim() !== '');

function runBash(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Every JSON object a block printed (curl -s ends none with a newline, so they may share a line). */
function jsonAnswers(output: string): unknown[] {
  const found: unknown[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < output.length; i++) {
    const c = output[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"' && depth > 0) inString = true;
    else if (c === '{' && depth++ === 0) start = i;
    else if (c === '}' && depth > 0 && --depth === 0) {
      try {
        found.push(JSON.parse(output.slice(start, i + 1)));
      } catch {
        // not JSON (a header line, a shell message)
      }
    }
  }
  return found;
}

describe('docs/api.md', () => {
  it('has a tour of about a dozen examples, each curl failing on an error status or stating the one it expects', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    expect(blocks.length).toBeLessThanOrEqual(16);
    const all = blocks.flatMap(commands);
    expect(blocks[0]).toContain(`API=${DOC_ADDRESS}`);
    for (const command of all.filter((line) => /\bcurl\b/.test(line))) {
      if (command.includes('--fail-with-body')) continue;
      expect(command, 'a curl without --fail-with-body prints its status and states it').toMatch(EXPECTED_STATUS);
      expect(command).toContain('%{http_code}');
    }
  });

  describe('run as written on a fresh start', () => {
    let dataDir: string;
    let api: Running | undefined;
    let base: string;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'catalogue-docs-'));
      const port = await freePort();
      // As `npm start` starts the API: the default demo catalogue, the first start's admin key.
      api = startNode(['--import', 'tsx', 'api/src/server.ts'], { DATA_DIR: dataDir, API_PORT: String(port) });
      base = `http://127.0.0.1:${port}`;
      await waitFor(`${base}/readyz`, 90_000, api);
    });
    afterAll(async () => {
      if (api && api.child.exitCode === null) {
        api.child.kill('SIGTERM');
        await api.exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    });

    it('runs every block in order, each command succeeding, every list it shows holding something', async () => {
      const work = await mkdtemp(join(tmpdir(), 'catalogue-docs-sh-'));
      try {
        const lines = ['set -eo pipefail'];
        for (const [i, block] of blocks.entries()) {
          await writeFile(join(work, `${i}.sh`), block.replaceAll(DOC_ADDRESS, base));
          lines.push(`source ${join(work, `${i}.sh`)} > ${join(work, `${i}.out`)} 2>&1`);
        }
        const run = await runBash(lines.join('\n'), repoRoot, { DATA_DIR: dataDir });
        const outputs = await Promise.all(
          blocks.map((_, i) => readFile(join(work, `${i}.out`), 'utf8').catch(() => undefined)),
        );
        const failed = outputs.findLastIndex((output) => output !== undefined);
        expect(
          run.code,
          `block ${failed} failed:\n${blocks[failed]}\n--- its output:\n${outputs[failed]}\n${run.output}`,
        ).toBe(0);

        for (const [i, block] of blocks.entries()) {
          const output = outputs[i]!;
          for (const command of commands(block)) {
            const status = EXPECTED_STATUS.exec(command)?.[1];
            if (status) expect(output.split('\n'), `block ${i}: ${command}`).toContain(status);
          }
          // The pages, the search, the sync, the ledger: each answer the tour shows has something in it.
          for (const answer of jsonAnswers(output)) {
            const list = (answer as { data?: unknown; hits?: unknown }).data ?? (answer as { hits?: unknown }).hits;
            if (Array.isArray(list)) expect(list.length, `block ${i}:\n${block}\n${output}`).toBeGreaterThan(0);
          }
        }
        const searches = blocks.flatMap((block, i) => (block.includes('/v1/search?q=') ? jsonAnswers(outputs[i]!) : []));
        expect(searches.length).toBeGreaterThanOrEqual(2);
        const sync = blocks.findIndex((block) => block.includes('updated_after='));
        expect(jsonAnswers(outputs[sync]!)).toHaveLength(1);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
  });
});
