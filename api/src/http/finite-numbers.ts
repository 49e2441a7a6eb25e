import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem, type InvalidParam } from './problem.ts';

/**
 * AJV coerces "1e400" and "Infinity" to Infinity and then skips the integer, minimum and maximum
 * checks (its range checks are guarded by isFinite). This refuses any non-finite number left in
 * the query or path after validation, so no route ever sees one.
 */
function nonFinite(values: unknown, where: InvalidParam['in']): InvalidParam[] {
  if (!values || typeof values !== 'object') return [];
  return Object.entries(values).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).some((v) => typeof v === 'number' && !Number.isFinite(v))
      ? [{ in: where, name, detail: 'must be a finite number' }]
      : [],
  );
}

export const finiteNumbersPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('preHandler', async (request: FastifyRequest) => {
      const errors = [...nonFinite(request.query, 'query'), ...nonFinite(request.params, 'path')];
      if (errors.length > 0) {
        throw new HttpProblem(400, 'invalid-request', 'Invalid request', errors.map((e) => `${e.name}: ${e.detail}`).join('; '), errors);
      }
    });
  },
  { name: 'finite-numbers' },
);
