import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openapiYaml } from '../src/openapi/document.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the OpenAPI contract', () => {
  it('openapi.yaml is what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
    const committed = await readFile(`${root}/openapi.yaml`, 'utf8');
    expect(committed).toBe(await openapiYaml());
  });

  it('declares every operation with an operationId, and problem+json for its errors', async () => {
    const document = parse(await openapiYaml());
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.values(document.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(
      (item) => Object.values(item),
    );
    expect(operations.length).toBeGreaterThanOrEqual(6);
    for (const operation of operations) {
      expect(operation.operationId).toEqual(expect.any(String));
      const responses = operation.responses as Record<string, { content?: Record<string, unknown> }>;
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) >= 400) expect(Object.keys(response.content ?? {})).toEqual(['application/problem+json']);
      }
    }
  });

  it('passes Spectral’s OpenAPI ruleset (spectral:oas) without errors or warnings', async () => {
    const spectral = `${root}/node_modules/.bin/spectral`;
    const { stdout } = await promisify(execFile)(
      spectral,
      ['lint', `${root}/openapi.yaml`, '--ruleset', `${root}/.spectral.yaml`, '--format', 'json', '--quiet'],
      { cwd: root },
    ).catch((error: { stdout: string }) => error);
    const findings = JSON.parse(stdout) as { code: string; severity: number; message: string }[];
    // Severity 0 is an error, 1 a warning.
    expect(findings.filter((f) => f.severity <= 1)).toEqual([]);
  });
});
