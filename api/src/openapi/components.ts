import { isDeepStrictEqual } from 'node:util';
import type { SwaggerTransformObject } from '@fastify/swagger';

type Json = unknown;
type JsonObject = Record<string, Json>;

const isObject = (value: Json): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A JSON Schema that names itself: an object with a `title` and something that types it. */
const named = (value: JsonObject): value is JsonObject & { title: string } =>
  typeof value.title === 'string' &&
  ['type', 'anyOf', 'oneOf', 'allOf', 'properties', 'enum', 'const'].some((key) => key in value);

/** Every schema with a title under `value`, outermost first. */
function* titled(value: Json): Generator<JsonObject & { title: string }> {
  if (Array.isArray(value)) for (const item of value) yield* titled(item);
  else if (isObject(value)) {
    if (named(value)) yield value;
    for (const item of Object.values(value)) yield* titled(item);
  }
}

function replace(value: Json, hoisted: Set<string>, keep?: JsonObject): Json {
  if (Array.isArray(value)) return value.map((item) => replace(item, hoisted));
  if (!isObject(value)) return value;
  if (value !== keep && named(value) && hoisted.has(value.title)) {
    return { $ref: `#/components/schemas/${encodeURIComponent(value.title)}` };
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replace(item, hoisted)]));
}

/**
 * Moves every named schema (a TypeBox schema with a `title`: Problem, Product, Money, …) out of
 * the operations into `components.schemas`, referenced by `$ref`: the document shrinks by more
 * than half, and clients generated from it get one type per name. A title that names two
 * different schemas stays inline wherever it is, rather than one being silently taken for the
 * other. An @fastify/swagger `transformObject`.
 */
export const hoistNamedSchemas: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) return document.swaggerObject;
  const openapiObject = document.openapiObject as JsonObject;
  const byTitle = new Map<string, JsonObject | null>();
  for (const schema of titled(openapiObject.paths)) {
    const seen = byTitle.get(schema.title);
    if (seen === undefined) byTitle.set(schema.title, schema);
    else if (seen !== null && !isDeepStrictEqual(seen, schema)) byTitle.set(schema.title, null);
  }
  const hoisted = new Set([...byTitle].filter(([, schema]) => schema !== null).map(([title]) => title));
  const schemas: JsonObject = {};
  for (const title of [...hoisted].sort()) schemas[title] = replace(byTitle.get(title), hoisted, byTitle.get(title)!);
  const components = isObject(openapiObject.components) ? openapiObject.components : {};
  const hoistedDocument: JsonObject = {
    ...openapiObject,
    paths: replace(openapiObject.paths, hoisted),
    components: { ...components, schemas: { ...(components.schemas as JsonObject | undefined), ...schemas } },
  };
  return hoistedDocument as typeof document.openapiObject;
};
