import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem, type InvalidParam } from './problem.ts';

/**
 * Numbers in the query string and the path must be written as decimal numbers. AJV's type
 * coercion would otherwise take "0x10" for 16, " " for 0, and "1e400" or "Infinity" for Infinity
 * (which then skips the minimum and maximum checks, and reaches the database). So would a decimal
 * too long for a number: 400 nines is Infinity too. This runs before validation, on the raw
 * strings of the parameters the route's schema declares as integer or number.
 */
const INTEGER = /^-?\d+$/;
const NUMBER = /^-?\d+(\.\d+)?$/;

interface PropertySchema {
  type?: string;
  items?: { type?: string };
}

/** Why a parameter's text is not a number as the API reads them, or undefined when it is one. */
function fault(type: 'integer' | 'number', value: string): string | undefined {
  if (!(type === 'integer' ? INTEGER : NUMBER).test(value)) return `must be a decimal ${type}`;
  const number = Number(value);
  return (type === 'integer' ? Number.isSafeInteger(number) : Number.isFinite(number)) ? undefined : 'is too large';
}

function badNumbers(
  schema: { properties?: Record<string, PropertySchema> } | undefined,
  given: Record<string, unknown>,
  where: 'query' | 'path',
): InvalidParam[] {
  if (!schema?.properties) return [];
  const errors: InvalidParam[] = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    const type = property.type === 'array' ? property.items?.type : property.type;
    if (type !== 'integer' && type !== 'number') continue;
    const raw = given[name];
    const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
    const detail = values.map((value) => (typeof value === 'string' ? fault(type, value) : undefined)).find(Boolean);
    if (detail) errors.push({ in: where, name, detail });
  }
  return errors;
}

export const strictNumbersPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('preValidation', async (request: FastifyRequest) => {
      type Properties = { properties?: Record<string, PropertySchema> } | undefined;
      const { schema } = request.routeOptions;
      const errors = [
        ...badNumbers(schema?.params as Properties, request.params as Record<string, unknown>, 'path'),
        ...badNumbers(schema?.querystring as Properties, request.query as Record<string, unknown>, 'query'),
      ];
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
