import { STATUS_CODES } from 'node:http';
import { Type, type TSchema } from 'typebox';
import { Problem, PROBLEM_CONTENT_TYPE } from './problem.ts';

/**
 * The documented error responses of a route, all problem+json. 500 is always possible, and so is
 * 503 with `Retry-After` while the database cannot be reached (http/problem.ts).
 */
export function problemResponses<const C extends readonly number[]>(...codes: C) {
  const entries = [...new Set([...codes, 500, 503])].map((code) => [
    code,
    {
      description: STATUS_CODES[code] ?? 'Error',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
    },
  ]);
  return Object.fromEntries(entries) as Record<
    C[number] | 500 | 503,
    { description: string; content: Record<string, { schema: typeof Problem }> }
  >;
}

const cacheHeaders = {
  ETag: Type.String({ description: 'Validator for If-None-Match.' }),
  'Cache-Control': Type.String(),
};

/** A public, cacheable 200 answer: documents its caching headers, and the 304 it may become. */
export function cacheable<T extends TSchema>(schema: T, extraHeaders: Record<string, TSchema> = {}) {
  return {
    200: { ...schema, headers: { ...cacheHeaders, ...extraHeaders } } as T,
    304: Type.Null({ description: 'Not modified: the ETag matches If-None-Match.' }),
  };
}
