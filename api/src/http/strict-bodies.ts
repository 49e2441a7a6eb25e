import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Compile } from 'typebox/compile';

/**
 * JSON bodies are taken as sent. The validator coerces types, which parameters need (a query
 * string is text: "5" for 5, one value for a list) and bodies must not have: it would take
 * `"delta": "5"` for 5, `"brand": ""` for null, `"atomic": null` for false, and it rewrites valid
 * bodies too: a number or a boolean in a product's `attributes` became text (the first type of
 * their union), in place.
 *
 * So each JSON body is also checked against its route's schema, without coercion, before the
 * validator runs. When the validator then lets through a body this check refused, the request is
 * refused (400, the fields named); a body this check accepted reaches the handler as it was sent.
 * Bodies the validator refuses keep its answer.
 */
interface TypeBoxError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message: string;
}

const checks = new WeakMap<object, ReturnType<typeof Compile>>();
const refused = new WeakMap<FastifyRequest, TypeBoxError[]>();
const sent = new WeakMap<FastifyRequest, unknown>();

/** TypeBox's errors in the shape of the validator's (Ajv), which problem+json answers are built from. */
function asValidation(errors: TypeBoxError[]) {
  return errors.flatMap((error) => {
    const { keyword, instancePath, schemaPath } = error;
    if (keyword === 'required') {
      return (error.params.requiredProperties as string[]).map((missingProperty) => ({
        keyword,
        instancePath,
        schemaPath,
        params: { missingProperty },
        message: `must have required property '${missingProperty}'`,
      }));
    }
    if (keyword === 'additionalProperties') {
      return (error.params.additionalProperties as string[]).map((additionalProperty) => ({
        keyword,
        instancePath,
        schemaPath,
        params: { additionalProperty },
        message: 'must NOT have additional properties',
      }));
    }
    // `additionalProperties: false` restated for each extra field: the entry above names it.
    if (keyword === 'boolean') return [];
    return [{ keyword, instancePath, schemaPath, params: error.params, message: error.message }];
  });
}

export const strictBodiesPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('preValidation', async (request) => {
      const schema = request.routeOptions.schema?.body as object | undefined;
      // Imports document their bodies by media type (`content`): the handler parses the stream.
      if (!schema || 'content' in schema || request.body === undefined) return;
      let check = checks.get(schema);
      if (!check) checks.set(schema, (check = Compile(schema as never)));
      if (check.Check(request.body)) sent.set(request, structuredClone(request.body));
      else refused.set(request, check.Errors(request.body) as TypeBoxError[]);
    });
    // Registered before the routes, so it runs before their own preHandlers (the key checks), as
    // the validator's refusals do.
    app.addHook('preHandler', async (request) => {
      if (sent.has(request)) request.body = sent.get(request);
      const errors = refused.get(request);
      if (!errors) return;
      const validation = asValidation(errors);
      throw Object.assign(new Error(validation.map((e) => `body${e.instancePath} ${e.message}`).join('; ')), {
        statusCode: 400,
        code: 'FST_ERR_VALIDATION',
        validation,
        validationContext: 'body',
      });
    });
  },
  { name: 'strict-bodies' },
);
