/**
 * Part of the STAND-IN for a real Meilisearch server, for tests only.
 *
 * Checks HTTP requests and responses against Meilisearch's own OpenAPI 3.1 document (server
 * 1.53.0, /work/shared/meilisearch), with the three defects its README lists corrected in memory.
 * What this proves: paths, methods, parameter and field names, and types. What it cannot prove:
 * semantics (filter syntax, typo tolerance, ranking, facet counts, task timing).
 *
 * Stricter than the document on one point, like the server: a JSON body with a field its schema
 * does not declare is rejected (the document leaves `additionalProperties` open on most request
 * schemas, the server's deserialiser denies unknown fields).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';

/** The contract, as copied into the repository (testing/contracts/README.md). */
export const DOCUMENT_PATH = fileURLToPath(new URL('../contracts/meilisearch-openapi-1.53.0.json', import.meta.url));
/** The team's shared copy, beside the checkout when there is one. */
export const SHARED_DOCUMENT_PATH = fileURLToPath(
  new URL('../../../shared/meilisearch/meilisearch-openapi-1.53.0.json', import.meta.url),
);
const DOCUMENT_ID = 'https://meilisearch.stand-in/openapi-1.53.0.json';

type Schema = { [keyword: string]: unknown };
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
interface Media {
  content?: Record<string, { schema?: Schema }>;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: Media & { required?: boolean };
  responses?: Record<string, Media>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
  [key: string]: unknown;
}

/**
 * The README's known defects, each checked against the server's source by whoever wrote it. A
 * correction throws when its target is missing or no longer has the defective shape: a new
 * document must be looked at again, not silently patched.
 */
export const CORRECTIONS = {
  /** `facets` in search and multi-search queries is a list of strings on the wire, not `{patterns}`. */
  facetsIsAList(document: OpenApiDocument) {
    for (const name of ['SearchQuery', 'SearchQueryWithIndex']) {
      const properties = document.components.schemas[name]?.properties as Record<string, Schema> | undefined;
      const facets = properties?.facets;
      const variants = (facets?.oneOf ?? []) as Schema[];
      if (!properties || !variants.some((variant) => variant.$ref === '#/components/schemas/AttributePatterns')) {
        throw new Error(`correction facetsIsAList: ${name}.facets is not the {patterns} object any more`);
      }
      properties.facets = { type: ['array', 'null'], items: { type: 'string' } };
    }
  },
  /** A task that has not started (or finished) has `startedAt` (`finishedAt`) null. */
  taskDatesMayBeNull(document: OpenApiDocument) {
    const properties = document.components.schemas.TaskView?.properties as Record<string, Schema> | undefined;
    for (const name of ['startedAt', 'finishedAt']) {
      const property = properties?.[name];
      if (!property || property.type !== 'string') {
        throw new Error(`correction taskDatesMayBeNull: TaskView.${name} is not a plain string any more`);
      }
      property.type = ['string', 'null'];
    }
  },
  /** Multi-search without `federation` answers `{results: [...]}`, which the document omits. */
  multiSearchPlainResults(document: OpenApiDocument) {
    const media = document.paths['/multi-search']?.post?.responses?.['200']?.content?.['application/json'];
    if (
      !media?.schema ||
      media.schema.$ref !== '#/components/schemas/FederatedSearchResult' ||
      !document.components.schemas.SearchResults
    ) {
      throw new Error(
        'correction multiSearchPlainResults: the multi-search 200 response is not the federated one alone',
      );
    }
    media.schema = {
      anyOf: [{ $ref: '#/components/schemas/FederatedSearchResult' }, { $ref: '#/components/schemas/SearchResults' }],
    };
  },
};
export type CorrectionName = keyof typeof CORRECTIONS;

/** The document as published, with the named corrections applied (all of them unless told). */
export function loadDocument(
  corrections: readonly CorrectionName[] = Object.keys(CORRECTIONS) as CorrectionName[],
): OpenApiDocument {
  const document = JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')) as OpenApiDocument;
  for (const name of corrections) CORRECTIONS[name](document);
  return document;
}

export interface ContractRequest {
  method: string;
  /** The URL path as sent, e.g. `/indexes/products/search` (no query string). */
  path: string;
  query?: URLSearchParams | Record<string, string>;
  /** The parsed JSON body; undefined when there is none. */
  body?: unknown;
}
export interface ContractResponse {
  method: string;
  path: string;
  status: number;
  body?: unknown;
}
/** Each function answers the violations found, one message each: empty means conforming. */
export interface Contract {
  validateRequest(request: ContractRequest): string[];
  validateResponse(response: ContractResponse): string[];
}

interface Found {
  template: string;
  label: string;
  operation: Operation;
  params: Record<string, string>;
}

const pointer = (...segments: string[]) =>
  segments.map((segment) => '/' + encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'))).join('');

export function createContract(document: OpenApiDocument): Contract {
  // Strict, so that an unknown keyword or format fails loudly instead of validating nothing; the
  // OpenAPI-only words are declared as annotations. Not strict about types: the document has union
  // types, and `propertyNames: {type: integer}` (FederatedSearchResult.queryVectors) that Ajv refuses.
  const ajv = new Ajv2020({ strict: true, strictTypes: false, allowUnionTypes: true });
  formats.default(ajv);
  const unsigned = (bits: number) => ({
    type: 'number' as const,
    validate: (value: number) => Number.isInteger(value) && value >= 0 && value < 2 ** bits,
  });
  ajv.addFormat('u-int8', unsigned(8)).addFormat('u-int32', unsigned(32)).addFormat('u-int64', unsigned(64));
  ajv.addVocabulary(['openapi', 'info', 'servers', 'paths', 'components', 'tags', 'example']);
  ajv.addSchema({ ...document, $id: DOCUMENT_ID });

  const compiled = new Map<string, ValidateFunction>();
  const validator = (at: string) => {
    let validate = compiled.get(at);
    if (!validate) compiled.set(at, (validate = ajv.compile({ $ref: `${DOCUMENT_ID}#${at}` })));
    return validate;
  };
  const check = (at: string, value: unknown, where: string): string[] => {
    const validate = validator(at);
    return validate(value) ? [] : [`${where}: ${describe(validate.errors ?? [])}`];
  };
  const resolve = (schema: Schema | undefined): Schema => {
    while (typeof schema?.$ref === 'string' && schema.$ref.startsWith('#/components/schemas/')) {
      schema = document.components.schemas[schema.$ref.slice('#/components/schemas/'.length)];
    }
    return schema ?? {};
  };

  // Literal segments win over parameters: /documents/fetch is not the document "fetch".
  const templates = Object.keys(document.paths)
    .map((template) => ({
      template,
      names: [...template.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!),
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}$`),
    }))
    .sort((a, b) => a.names.length - b.names.length);

  const find = (method: string, path: string): Found | string => {
    const matching = templates.filter(({ pattern }) => pattern.test(path));
    for (const { template, names, pattern } of matching) {
      const operation = document.paths[template]?.[method.toLowerCase()];
      if (!operation) continue;
      const values = pattern.exec(path)!.slice(1).map(decodeURIComponent);
      return {
        template,
        label: `${method.toUpperCase()} ${template}`,
        operation,
        params: Object.fromEntries(names.map((name, i) => [name, values[i]!])),
      };
    }
    return matching.length === 0
      ? `${method.toUpperCase()} ${path}: no such path in the contract`
      : `${method.toUpperCase()} ${path}: method not in the contract (${matching.map((m) => m.template).join(', ')})`;
  };

  // Parameters arrive as text; Meilisearch reads lists comma-separated (the client joins them so).
  const coerce = (raw: string, schema: Schema | undefined): unknown => {
    const resolved = resolve(schema);
    const types = [resolved.type].flat();
    if (types.includes('array'))
      return raw === '' ? [] : raw.split(',').map((part) => coerce(part, resolved.items as Schema));
    if ((types.includes('integer') || types.includes('number')) && raw.trim() !== '' && !Number.isNaN(Number(raw))) {
      return Number(raw);
    }
    if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
    return raw;
  };

  // Top-level fields only, and only where the schema lists its fields and says nothing of others.
  const unknownFields = (body: unknown, schema: Schema | undefined, where: string): string[] => {
    const resolved = resolve(schema);
    if (Array.isArray(body) && resolved.items) {
      return body.flatMap((item, i) => unknownFields(item, resolved.items as Schema, `${where}/${i}`));
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
    if (!resolved.properties || resolved.additionalProperties !== undefined) return [];
    const known = Object.keys(resolved.properties);
    return Object.keys(body)
      .filter((key) => !known.includes(key))
      .map((key) => `${where}: unknown field \`${key}\` (the server denies unknown fields)`);
  };

  return {
    validateRequest({ method, path, query, body }) {
      const found = find(method, path);
      if (typeof found === 'string') return [found];
      const { label, operation, params } = found;
      const at = (...rest: string[]) => pointer('paths', found.template, method.toLowerCase(), ...rest);
      const errors: string[] = [];
      const parameters = operation.parameters ?? [];
      const entries = query instanceof URLSearchParams ? [...query] : Object.entries(query ?? {});
      parameters.forEach((parameter, i) => {
        const schema = at('parameters', String(i), 'schema');
        const where = `${label} ${parameter.in} ${parameter.name}`;
        if (parameter.in === 'path')
          errors.push(...check(schema, coerce(params[parameter.name]!, parameter.schema), where));
        if (parameter.in !== 'query') return;
        const values = entries.filter(([name]) => name === parameter.name).map(([, value]) => value);
        if (parameter.required && values.length === 0) errors.push(`${where}: missing`);
        for (const value of values) errors.push(...check(schema, coerce(value, parameter.schema), where));
      });
      for (const [name] of entries) {
        if (!parameters.some((parameter) => parameter.in === 'query' && parameter.name === name)) {
          errors.push(`${label}: unknown query parameter \`${name}\``);
        }
      }
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      if (schema && body !== undefined) {
        errors.push(...check(at('requestBody', 'content', 'application/json', 'schema'), body, `${label} body`));
        errors.push(...unknownFields(body, schema, `${label} body`));
      } else if (schema && operation.requestBody?.required) {
        errors.push(`${label}: missing JSON body`);
      }
      return errors;
    },

    validateResponse({ method, path, status, body }) {
      const found = find(method, path);
      if (typeof found === 'string') return [found];
      const { label, operation, template } = found;
      const where = `${label} ${status} response`;
      const declared = operation.responses?.[String(status)];
      if (!declared) {
        // Almost no 400 (and no 403) is declared: an error answer must still be the error object.
        if (status >= 400) return check(pointer('components', 'schemas', 'ResponseError'), body, where);
        return [`${label}: status ${status} is not declared (${Object.keys(operation.responses ?? {}).join(', ')})`];
      }
      if (!declared.content?.['application/json']?.schema) return [];
      const media = ['content', 'application/json', 'schema'];
      return check(
        pointer('paths', template, method.toLowerCase(), 'responses', String(status), ...media),
        body,
        where,
      );
    },
  };
}

function describe(errors: ErrorObject[]): string {
  return errors
    .map((error) => {
      const extra = error.params.additionalProperty as string | undefined;
      return `${error.instancePath || '/'} ${error.message}${extra ? ` (\`${extra}\`)` : ''}`;
    })
    .join('; ');
}

let corrected: Contract | undefined;
/** The corrected contract, built once (the document is 800 kB). */
export const contract = (): Contract => (corrected ??= createContract(loadDocument()));
/** The contract of the document exactly as published, for proving each correction is needed. */
export const uncorrectedContract = (): Contract => createContract(loadDocument([]));

export const validateRequest = (request: ContractRequest) => contract().validateRequest(request);
export const validateResponse = (response: ContractResponse) => contract().validateResponse(response);
