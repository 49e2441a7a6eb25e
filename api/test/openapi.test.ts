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

  it('documents the answers guards give to every route: 304 on GETs, 400 on /v1, 413 and 415 on JSON bodies (found by the contract fuzzer)', async () => {
    const document = parse(await openapiYaml());
    type Operation = {
      operationId: string;
      requestBody?: { content: Record<string, unknown> };
      responses: Record<string, { headers?: Record<string, { schema?: Record<string, unknown> }> }>;
    };
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, operation] of Object.entries(item)) {
        const statuses = Object.keys(operation.responses);
        const label = `${method.toUpperCase()} ${path}`;
        if (method === 'get') expect(statuses, label).toContain('304');
        // Every /v1 route refuses a query parameter it does not take.
        if (path.startsWith('/v1/')) expect(statuses, label).toContain('400');
        if (operation.requestBody?.content['application/json'])
          expect(statuses, label).toEqual(expect.arrayContaining(['413', '415']));
        // A header's schema is a schema, not wrapped twice (`schema: {schema: …}`).
        for (const [status, response] of Object.entries(operation.responses)) {
          for (const [name, header] of Object.entries(response.headers ?? {})) {
            expect(header.schema, `${label} ${status} ${name}`).not.toHaveProperty('schema');
            expect(header.schema, `${label} ${status} ${name}`).toHaveProperty('type');
          }
        }
      }
    }
  });

  it('declares a bearer scheme, and on each operation that asks for a key its security and scope rather than an Authorization parameter', async () => {
    const document = parse(await openapiYaml());
    expect(document.components.securitySchemes).toEqual({
      apiKey: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    type Operation = {
      security?: unknown;
      'x-required-scopes'?: string[];
      parameters?: { in: string; name: string }[];
    };
    const scopes: Record<string, string[] | undefined> = {};
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, operation] of Object.entries(item)) {
        const label = `${method.toUpperCase()} ${path}`;
        const headers = (operation.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name.toLowerCase());
        expect(headers, label).not.toContain('authorization');
        if (operation.security) expect(operation.security, label).toEqual([{ apiKey: [] }]);
        else expect(operation, label).not.toHaveProperty('x-required-scopes');
        if (operation.security) scopes[label] = operation['x-required-scopes'];
      }
    }
    expect(scopes).toEqual({
      'POST /v1/products': ['catalog:write'],
      'PATCH /v1/products/{idOrSlug}': ['catalog:write'],
      'DELETE /v1/products/{idOrSlug}': ['catalog:write'],
      'POST /v1/imports/products': ['catalog:write'],
      'GET /v1/stock-levels': ['stock:write'],
      'POST /v1/stock-adjustments': ['stock:write'],
      'POST /v1/products/{id}/stock-adjustments': ['stock:write'],
      'PUT /v1/products/{id}/stock': ['stock:write'],
      'GET /v1/products/{id}/stock-movements': ['stock:write'],
      'GET /v1/keys/me': [],
      'GET /v1/keys': ['keys:admin'],
      'POST /v1/keys': ['keys:admin'],
      'DELETE /v1/keys/{id}': ['keys:admin'],
    });
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
