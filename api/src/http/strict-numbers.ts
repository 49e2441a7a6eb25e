import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem, type InvalidParam } from './problem.ts';

/**
 * Numbers in the query string must be written as decimal numbers. AJV's type coercion would
 * otherwise take "0x10" for 16, " " for 0, and "1e400" or "Infinity" for Infinity (which then
 * skips the minimum and maximum checks). This runs before validation, on the raw strings of the
 * parameters the route's schema declares as integer or number.
 */
const INTEGER = /^-?\d+$/;
const NUMBER = /^-?\d+(\.\d+)?$/;

interface PropertySchema {
  type?: string;
  items?: { type?: string };
}

function badNumbers(request: FastifyRequest): InvalidParam[] {
  const schema = request.routeOptions.schema?.querystring as
    { properties?: Record<string, PropertySchema> } | undefined;
  if (!schema?.properties) return [];
  const query = request.query as Record<string, unknown>;
  const errors: InvalidParam[] = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    const type = property.type === 'array' ? property.items?.type : property.type;
    if (type !== 'integer' && type !== 'number') continue;
    const raw = query[name];
    const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
    const pattern = type === 'integer' ? INTEGER : NUMBER;
    if (values.some((value) => typeof value === 'string' && !pattern.test(value))) {
      errors.push({ in: 'query', name, detail: `must be a decimal ${type === 'integer' ? 'integer' : 'number'}` });
    }
  }
  return errors;
}

export const strictNumbersPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('preValidation', async (request) => {
      const errors = badNumbers(request);
      if (errors.length > 0) {
        throw new HttpProblem(
          400,
          'invalid-request',
          'Invalid request',
          errors.map((e) => `${e.name}: ${e.detail}`).join('; '),
          errors,
        );
      }
    });
  },
  { name: 'strict-numbers' },
);
