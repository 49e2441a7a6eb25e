import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { ConfigSchema } from '../src/config.ts';
import { testApp, testDatabase } from './support/database.ts';
import { repoRoot } from '@catalogue/testing/process';

/**
 * The docs that restate the code are checked against it: docs/configuration.md against the config
 * schema and the variables the storefront reads, docs/architecture.md's route table against the
 * routes the app registers.
 */

// Every route the app registers, as Fastify registers it: an onRoute hook on each instance made.
const registered = vi.hoisted(() => [] as { method: string; url: string }[]);
vi.mock('fastify', async (importOriginal) => {
  const actual = await importOriginal<typeof import('fastify')>();
  const create = actual.default as unknown as (...args: unknown[]) => FastifyInstance;
  const make = (...args: unknown[]) => {
    const app = create(...args);
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) registered.push({ method, url: route.url });
    });
    return app;
  };
  return { ...actual, default: make, fastify: make };
});

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

/** The rows of the first table under a `## heading` (up to the next `## `), cells trimmed. */
function tableUnder(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  expect(start, `a "## ${heading}" section`).toBeGreaterThan(-1);
  const rest = markdown.slice(start + heading.length + 5);
  const section = rest.slice(0, rest.search(/\n## |$/));
  return section
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .slice(1) // the header row
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
}

/** `A`, `B` in a cell: the names in backticks. */
const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe('docs/configuration.md', () => {
  const doc = read('docs/configuration.md');

  it('lists every variable of the config schema, and no other, in its API table', () => {
    const listed = tableUnder(doc, 'The API').flatMap((row) => names(row[0]!));
    expect([...listed].sort()).toEqual(Object.keys(ConfigSchema.properties).sort());
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('lists every variable the launcher and the storefront read', () => {
    const listed = new Set(tableUnder(doc, 'The storefront and the launcher').flatMap((row) => names(row[0]!)));
    const sources = ['scripts/start.mjs', 'web/server/index.js', 'web/src/lib/server/api.ts', 'web/src/lib/server/catalogue.ts'];
    const read_ = new Set<string>();
    for (const source of sources.filter((path) => existsSync(join(repoRoot, path)))) {
      const text = read(source);
      for (const m of text.matchAll(/(?:process\.env|\benv)(?:\.|\[['"]|\(['"])([A-Z][A-Z0-9_]+)/g)) read_.add(m[1]!);
      for (const m of text.matchAll(/number\('([A-Z][A-Z0-9_]+)'/g)) read_.add(m[1]!);
    }
    // The API's own settings, which the launcher passes on, are in the API table.
    const api = new Set(Object.keys(ConfigSchema.properties));
    const missing = [...read_].filter((name) => !listed.has(name) && !api.has(name));
    expect(read_.size).toBeGreaterThan(5);
    expect(missing).toEqual([]);
  });
});

describe('docs/architecture.md', () => {
  const doc = read('docs/architecture.md');
  const rows = tableUnder(doc, 'Routes').map(([method, path, file]) => ({
    method: method!,
    url: names(path!)[0]!,
    file: names(file!)[0]!,
  }));
  const key = (route: { method: string; url: string }) => `${route.method} ${route.url}`;

  /**
   * What the table leaves out: the HEAD route Fastify adds beside each GET, and Swagger UI's own
   * pages under /docs/ (its static files and its copies of the document), all registered by one
   * plugin; the table has its entry, GET /docs.
   */
  const served = async () => {
    registered.length = 0;
    await testApp(await testDatabase(), { config: { METRICS_TOKEN: 'docs-test-metrics-token' } });
    const gets = new Set(registered.filter((r) => r.method === 'GET').map((r) => r.url));
    return registered.filter((r) => !(r.method === 'HEAD' && gets.has(r.url)) && !r.url.startsWith('/docs/'));
  };

  it('has a row for every route the app registers, and a registered route for every row', async () => {
    const routes = await served();
    expect(routes.length).toBeGreaterThan(15);
    expect(rows.map(key).sort()).toEqual([...new Set(routes.map(key))].sort());
  });

  it('names, for each route, a file that exists and holds its path', () => {
    expect(rows.length).toBeGreaterThan(15);
    const wrong = rows.filter((row) => !existsSync(join(repoRoot, row.file)) || !read(row.file).includes(`'${row.url}'`));
    expect(wrong.map((row) => `${key(row)} → ${row.file}`)).toEqual([]);
  });
});
