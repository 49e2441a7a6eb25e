import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * One Ajv instance per kind of request part, built by Fastify's own compiler module (its default
 * options and `ajv-formats` included): https://fastify.dev/docs/latest/Reference/Validation-and-Serialization/
 *
 * - The query string, the path and the headers are text, so their validator coerces types: "5"
 *   is read as 5, and one value as a list of one (`coerceTypes: 'array'`).
 * - JSON bodies are validated as sent, without coercion: `"delta": "5"`, `"brand": ""` for null
 *   or `"atomic": null` for false are refused, and a valid body reaches the handler unchanged (a
 *   number in a union of types stays a number).
 */
const SHARED = {
  // Unknown parameters and fields are refused rather than silently ignored (a typo must not widen a query).
  removeAdditional: false,
  useDefaults: true,
  // Report every failing field, not only the first.
  allErrors: true,
} as const;

type SharedSchemas = Parameters<ReturnType<typeof AjvCompiler>>[0];

/** Registered before the routes, whose schemas it compiles. */
export const validationPlugin = fp(
  async (app: FastifyInstance) => {
    // Keeps one instance per set of options (and of shared schemas, which it is given as they stand).
    const compilers = AjvCompiler();
    app.setValidatorCompiler((route) => {
      const coerceTypes = route.httpPart === 'body' ? false : 'array';
      return compilers(app.getSchemas() as SharedSchemas, { customOptions: { ...SHARED, coerceTypes } })(route);
    });
  },
  { name: 'validation' },
);
