/**
 * Contract fuzzing from `openapi.yaml`: requests derived from each operation's documented
 * parameters and bodies (valid ones, and mutations the document makes invalid), and a checker
 * that holds every answer to the operation's documented responses.
 *
 * The generators know nothing of the API beyond the document, except through `Hints`: the test
 * supplies values that exist in its database (ids, slugs, cursors, versions) so that requests
 * reach the handlers instead of stopping at a 404.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import fc from 'fast-check';
import { parse } from 'yaml';
import { CSV_COLUMNS } from '../../src/imports/rows.ts';

export const OPENAPI_PATH = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));
const DOCUMENT_ID = 'https://catalogue.dev/openapi.yaml';

export type Schema = { [keyword: string]: unknown };
export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: Schema;
}
interface Media {
  schema?: Schema;
}
interface Response {
  description?: string;
  headers?: Record<string, { schema?: Schema; description?: string }>;
  content?: Record<string, Media>;
}
interface RawOperation {
  operationId: string;
  security?: Record<string, string[]>[];
  /** The scope its key must hold (empty: any valid key), next to its `security`. */
  'x-required-scopes'?: string[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, Media> };
  responses: Record<string, Response>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, RawOperation>>;
  components: { schemas: Record<string, Schema> };
  [key: string]: unknown;
}

/** Who a request is sent as. `right` holds the operation's scope; `wrong-scope` holds another. */
export const AUTHS = ['right', 'wrong-scope', 'none', 'malformed', 'unknown', 'revoked'] as const;
export type Auth = (typeof AUTHS)[number];

export interface Operation {
  id: string;
  method: string;
  template: string;
  /** JSON pointer of the operation in the document. */
  pointer: string;
  parameters: Parameter[];
  body?: { required: boolean; media: Record<string, Schema> };
  responses: Record<string, Response>;
  /** The key scope it asks for (its `security` and `x-required-scopes`), `any` for any valid key, or none. */
  scope?: string;
}

export const loadDocument = (): OpenApiDocument => parse(readFileSync(OPENAPI_PATH, 'utf8')) as OpenApiDocument;

const pointer = (...segments: string[]) =>
  segments.map((segment) => '/' + encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'))).join('');

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([template, item]) =>
    METHODS.filter((method) => item[method]).map((method) => {
      const raw = item[method]!;
      const scope = raw.security?.length ? (raw['x-required-scopes']?.[0] ?? 'any') : undefined;
      return {
        id: raw.operationId,
        method: method.toUpperCase(),
        template,
        pointer: pointer('paths', template, method),
        parameters: raw.parameters ?? [],
        body: raw.requestBody
          ? {
              required: raw.requestBody.required ?? false,
              media: Object.fromEntries(
                Object.entries(raw.requestBody.content).map(([type, media]) => [type, media.schema ?? {}]),
              ),
            }
          : undefined,
        responses: raw.responses,
        scope,
      };
    }),
  );
}

/**
 * Methods the document does not declare on a path, and that no other path with parameters
 * takes either (DELETE /v1/keys/me is DELETE /v1/keys/{id}): the router answers them 404.
 */
export function undeclaredMethods(document: OpenApiDocument, template: string): string[] {
  const item = document.paths[template] ?? {};
  const matches = (other: string) =>
    new RegExp(`^${other.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(template);
  return METHODS.filter(
    (method) =>
      !item[method] &&
      !Object.entries(document.paths).some(
        ([other, operations]) => other !== template && operations[method] && matches(other),
      ),
  ).map((method) => method.toUpperCase());
}

// --- Validation ---------------------------------------------------------------------------------

/** Ajv (draft 2020-12, OpenAPI 3.1's dialect) over the whole document, strict about keywords. */
export class DocumentSchemas {
  readonly ajv: Ajv2020;
  readonly document: OpenApiDocument;
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor(document: OpenApiDocument) {
    this.document = document;
    // Strict, so that a keyword Ajv does not know (a malformed schema) fails loudly instead of
    // validating nothing. The document's top-level OpenAPI words are declared as annotations.
    this.ajv = new Ajv2020({ strict: true, strictTypes: false, allowUnionTypes: true, allErrors: true });
    formats.default(this.ajv);
    this.ajv.addVocabulary(['openapi', 'info', 'servers', 'paths', 'components', 'tags']);
    this.ajv.addSchema({ ...document, $id: DOCUMENT_ID });
  }

  /** The validator of the schema at a JSON pointer of the document (compiled once). */
  at(at: string): ValidateFunction {
    let validate = this.#compiled.get(at);
    if (!validate) this.#compiled.set(at, (validate = this.ajv.compile({ $ref: `${DOCUMENT_ID}#${at}` })));
    return validate;
  }

  check(at: string, value: unknown): string | undefined {
    const validate = this.at(at);
    return validate(value) ? undefined : describeErrors(validate.errors ?? []);
  }

  resolve(schema: Schema | undefined): Schema {
    while (typeof schema?.$ref === 'string' && schema.$ref.startsWith('#/components/schemas/')) {
      schema = this.document.components.schemas[schema.$ref.slice('#/components/schemas/'.length)];
    }
    return schema ?? {};
  }

  /** A validator for a schema found inside the document (its $refs resolved against it). */
  inline(schema: Schema): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.#compiled.get(key);
    if (!validate) {
      const rebased = JSON.parse(key.replaceAll('"$ref":"#/', `"$ref":"${DOCUMENT_ID}#/`)) as Schema;
      this.#compiled.set(key, (validate = this.ajv.compile(rebased)));
    }
    return validate;
  }

  accepts(schema: Schema, value: unknown): boolean {
    return this.inline(schema)(value) as boolean;
  }
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .slice(0, 5)
    .map((error) => {
      const extra = error.params.additionalProperty as string | undefined;
      return `${error.instancePath || '/'} ${error.message}${extra ? ` (\`${extra}\`)` : ''}`;
    })
    .join('; ');
}

// --- Requests -----------------------------------------------------------------------------------

/** What is sent, before it is written as a URL and bytes. Path and query values are decoded text. */
export interface Draft {
  params: Record<string, { value: string; encoded?: boolean }>;
  query: { name: string; value: string; encoded?: boolean }[];
  headers: Record<string, string>;
  body?: { json: unknown } | { raw: string | Buffer };
  /** The Content-Type of the body; null: none at all. */
  contentType?: string | null;
  /** Another method than the operation's (a method the path does not have). */
  method?: string;
}

export type Intent = 'valid' | 'invalid' | 'odd';

export interface FuzzRequest {
  operation: Operation;
  /** valid: the document allows it; invalid: it does not (must be refused, changing nothing); odd: allowed, but strange bytes. */
  intent: Intent;
  /** What was done to it: `valid`, or the mutation (e.g. `body.price.amount: max+1`). */
  note: string;
  auth: Auth;
  draft: Draft;
}

/** Percent-encoded as UTF-8; a lone surrogate (which UTF-8 cannot hold) as U+FFFD, as a client's encoder would. */
const encode = (text: string) => encodeURIComponent(text.replace(/\p{Cs}/gu, '\ufffd'));

export function urlOf(operation: Operation, draft: Draft): string {
  const path = operation.template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const param = draft.params[name]!;
    return param.encoded ? param.value : encode(param.value);
  });
  const query = draft.query.map(({ name, value, encoded }) =>
    encoded ? `${name}=${value}` : `${encode(name)}=${encode(value)}`,
  );
  return query.length > 0 ? `${path}?${query.join('&')}` : path;
}

export function payloadOf(draft: Draft): string | Buffer | undefined {
  if (!draft.body) return undefined;
  return 'json' in draft.body ? JSON.stringify(draft.body.json) : draft.body.raw;
}

const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text);

/** A request as a person reads it, enough to send it again by hand. */
export function describeRequest(request: FuzzRequest): string {
  const { operation, draft } = request;
  const payload = payloadOf(draft);
  const body =
    payload === undefined
      ? ''
      : `\n  body (${draft.contentType === null ? 'no Content-Type' : (draft.contentType ?? 'application/json')}): ${
          typeof payload === 'string' ? clip(JSON.stringify(payload)) : `<bytes ${clip(payload.toString('hex'))}>`
        }`;
  const headers = Object.keys(draft.headers).length > 0 ? `\n  headers: ${clip(JSON.stringify(draft.headers))}` : '';
  return `${draft.method ?? operation.method} ${clip(urlOf(operation, draft), 500)} [${operation.id}; ${request.intent}: ${clip(request.note, 200)}; key: ${request.auth}]${headers}${body}`;
}

// --- Values -------------------------------------------------------------------------------------

/** Where a value goes, for hints: `path:id`, `query:brand`, `header:if-match`, `body:price.amount`. */
export interface Site {
  operation: Operation;
  where: 'path' | 'query' | 'header' | 'body';
  /** The parameter name, or the field's dotted path in the body (array items as `[]`). */
  name: string;
}

/**
 * Values from the world under test for a site, mixed with values derived from the schema; or
 * `{ only }`: those values alone (where a derived value would do harm, e.g. revoke the fuzzer's
 * own key); or undefined: derived values alone.
 */
export type Hints = (site: Site, schema: Schema) => fc.Arbitrary<unknown> | { only: fc.Arbitrary<unknown> } | undefined;

/** Strings that look like attacks: stored and echoed as plain text, never interpreted. */
export const INJECTIONS = [
  "' OR '1'='1' --",
  "'; DROP TABLE products; --",
  '1 UNION SELECT secret_hash FROM api_keys',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2f',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '$(rm -rf /)',
  '\\u0000',
  'null',
  'NaN',
];

/**
 * Control characters (NUL included, which PostgreSQL text cannot hold) and lone surrogates (not
 * Unicode; JSON writes them as `\ud800`), also after a `/` for URL-like fields.
 */
export const CONTROL_TEXT = [
  'nul\u0000byte',
  'bell\u0007',
  'esc\u001b[31m',
  'del\u007f',
  '/nul\u0000',
  '/tab\tand\nnewline',
  'lone \ud800 surrogate',
  '/lone\udc00',
];

/** Unicode that strains text handling: accents, other scripts, emoji, bidi and zero-width marks. */
export const ODD_TEXT = [
  'Crème brûlée',
  'ÅÄÖ åäö ß',
  '日本語の商品',
  'עברית ערבית',
  '🏃‍♀️👟🔥',
  'a\u200bb\u200dc',
  '\u202eevil\u202c',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
  '＜full width＞',
  ' leading and trailing ',
];

const codePoints = (text: string) => [...text].length;

/** A schema's pattern without lookaheads, which fast-check cannot generate from (the full pattern filters). */
const generable = (pattern: string) => pattern.replace(/\(\?=[^)]*\)/g, '');

export class ValueGenerator {
  readonly schemas: DocumentSchemas;
  readonly hints: Hints;

  constructor(schemas: DocumentSchemas, hints: Hints) {
    this.schemas = schemas;
    this.hints = hints;
  }

  readonly #built = new Map<string, fc.Arbitrary<unknown>>();

  /** Values the schema accepts (hinted values too, when they fit it). Built once per site and schema. */
  valid(schema: Schema, site: Site): fc.Arbitrary<unknown> {
    const key = `${site.operation.id} ${site.where} ${site.name} ${JSON.stringify(schema)}`;
    let arbitrary = this.#built.get(key);
    if (!arbitrary) this.#built.set(key, (arbitrary = this.#build(schema, site)));
    return arbitrary;
  }

  #build(schema: Schema, site: Site): fc.Arbitrary<unknown> {
    const resolved = this.schemas.resolve(schema);
    const hinted = this.hints(site, resolved);
    if (hinted && 'only' in hinted) return hinted.only;
    const derived = this.#derive(resolved, site);
    if (!hinted) return derived;
    // Mostly what the world holds (deep paths), sometimes anything the schema allows.
    return fc.oneof({ weight: 4, arbitrary: hinted }, { weight: 1, arbitrary: derived });
  }

  #derive(schema: Schema, site: Site): fc.Arbitrary<unknown> {
    if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
    if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => this.valid(s, site)));
    switch (schema.type) {
      case 'string':
        return this.#string(schema);
      case 'integer': {
        const min = (schema.minimum as number | undefined) ?? -(2 ** 31);
        const max = (schema.maximum as number | undefined) ?? 2 ** 31;
        const excluded = ((schema.not as Schema | undefined)?.enum as unknown[] | undefined) ?? [];
        return fc
          .oneof(
            { weight: 1, arbitrary: fc.constantFrom(min, max) },
            { weight: 4, arbitrary: fc.integer({ min, max }) },
          )
          .filter((n) => !excluded.includes(n));
      }
      case 'number':
        return fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n));
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array': {
        const items = this.valid((schema.items as Schema) ?? {}, { ...site, name: `${site.name}[]` });
        const minLength = (schema.minItems as number | undefined) ?? 0;
        const maxLength = Math.min((schema.maxItems as number | undefined) ?? minLength + 4, minLength + 4);
        return schema.uniqueItems
          ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
          : fc.array(items, { minLength, maxLength });
      }
      case 'object':
        return this.#object(schema, site);
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  #string(schema: Schema): fc.Arbitrary<string> {
    const minLength = (schema.minLength as number | undefined) ?? 0;
    const maxLength = (schema.maxLength as number | undefined) ?? 10_000;
    const fits = (text: string) => codePoints(text) >= minLength && codePoints(text) <= maxLength;
    if (schema.format === 'date-time') {
      return fc
        .tuple(fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), fc.boolean())
        .map(([date, offset]) => (offset ? date.toISOString().replace('Z', '+02:00') : date.toISOString()));
    }
    const short = Math.min(maxLength, minLength + 40);
    if (typeof schema.pattern === 'string') {
      const full = new RegExp(schema.pattern, 'u');
      return fc
        .oneof(
          fc.stringMatching(new RegExp(generable(schema.pattern))),
          fc.string({ unit: 'grapheme', minLength, maxLength: short }),
          fc.constantFrom(...INJECTIONS, ...ODD_TEXT, ...CONTROL_TEXT),
        )
        .filter((text) => full.test(text) && fits(text));
    }
    return fc
      .oneof(
        fc.string({ unit: 'grapheme', minLength, maxLength: short }),
        fc.string({ unit: 'binary-ascii', minLength, maxLength: short }),
        fc.constantFrom(...INJECTIONS, ...ODD_TEXT, ...CONTROL_TEXT),
      )
      .filter(fits);
  }

  #object(schema: Schema, site: Site): fc.Arbitrary<unknown> {
    const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
    const required = (schema.required as string[] | undefined) ?? [];
    const field = (name: string): Site => ({ ...site, name: site.name ? `${site.name}.${name}` : name });
    const model = Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, this.valid(s, field(name))]));
    const minProperties = (schema.minProperties as number | undefined) ?? 0;
    const additional = schema.additionalProperties;
    let record: fc.Arbitrary<Record<string, unknown>> = fc.record(model, { requiredKeys: required });
    if (additional && typeof additional === 'object' && Object.keys(properties).length === 0) {
      // A free-form map (product attributes): any keys the schema allows, within maxProperties.
      const maxKeys = Math.min((schema.maxProperties as number | undefined) ?? 5, 5);
      const names = schema.propertyNames as Schema | undefined;
      const key = fc
        .oneof(
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
          fc.constantFrom('color', 'size', 'weight_kg', 'waterproof', '', ...INJECTIONS, ...CONTROL_TEXT),
        )
        .filter((name) => !names || this.schemas.accepts(names, name));
      record = fc.dictionary(key, this.valid(additional as Schema, field('*')), { maxKeys, noNullPrototype: true });
    }
    return record.filter((value) => Object.keys(value).length >= minProperties);
  }
}

// --- Invalid values -----------------------------------------------------------------------------

export const HUGE = 'x'.repeat(100_000);

/** Text that is not a decimal integer, as a query or path parameter, though JavaScript might read one. */
export const NOT_DECIMAL_INTEGERS = [
  'abc',
  '1.5',
  '0x1A',
  '1e3',
  ' 1',
  '+1',
  '١٢',
  'NaN',
  'Infinity',
  '-',
  '1_000',
  '0b11',
];

/** Percent-encodings that decode to no text (invalid UTF-8: a lone byte, a broken sequence, overlong, a surrogate). */
export const INVALID_UTF8 = ['%FF', '%C3%28', '%C0%AF', '%E0%80%80', '%ED%A0%80', '%F8%88%80%80%80'];

/**
 * Replacement values for a JSON field that break its schema: wrong types, numbers just outside
 * the bounds, strings just too long and huge, control characters, and attack-looking text. The
 * caller keeps only those the document refuses.
 */
export function badJsonValues(schema: Schema): unknown[] {
  const values: unknown[] = [
    null,
    true,
    0,
    -1,
    1.5,
    '',
    '5',
    'true',
    HUGE,
    'nul\u0000byte',
    'bell\u0007',
    'lone \ud800 surrogate',
    [],
    [1],
    {},
    { unexpected: 1 },
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53 + 2,
    ...INJECTIONS,
  ];
  if (typeof schema.minimum === 'number') values.push(schema.minimum - 1);
  if (typeof schema.maximum === 'number') values.push(schema.maximum + 1);
  if (typeof schema.maxLength === 'number') values.push('a'.repeat(schema.maxLength + 1));
  if (typeof schema.maxItems === 'number' && Array.isArray(schema.items) === false) {
    values.push(Array.from({ length: schema.maxItems + 1 }, () => 'a'));
  }
  return values;
}

/** Text for a query or path parameter that its schema refuses (checked by the caller where it can be). */
export function badParameterTexts(schema: Schema): string[] {
  const type = schema.type;
  const values: string[] = [];
  if (type === 'integer' || type === 'number') {
    values.push(...NOT_DECIMAL_INTEGERS);
    if (typeof schema.minimum === 'number') values.push(String(schema.minimum - 1));
    if (typeof schema.maximum === 'number' && schema.maximum < Number.MAX_SAFE_INTEGER) {
      values.push(String(schema.maximum + 1));
    }
    values.push('9'.repeat(400));
  } else if (type === 'boolean') {
    values.push('yes', '1', '0', 'TRUE', 'True', 'on', 'null', '');
  } else if (Array.isArray(schema.enum)) {
    values.push('bogus', String(schema.enum[0]).toUpperCase(), ` ${String(schema.enum[0])}`, '', ...INJECTIONS);
  } else {
    values.push('', 'UPPER', '-leading', 'a--b', 'under_score', 'nul\u0000byte', 'tab\there', HUGE, ...INJECTIONS);
    if (typeof schema.maxLength === 'number') values.push('a'.repeat(schema.maxLength + 1));
    if (schema.format === 'date-time') values.push('yesterday', '2024-13-01T00:00:00Z', '2024-01-01', '1e3');
  }
  return values;
}

// --- Bodies for imports -------------------------------------------------------------------------

const csvCell = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
};

/** Products (shaped like POST /v1/products bodies) as a CSV document with a header row. */
export function productsCsv(products: Record<string, unknown>[]): string {
  const rows = products.map((product) =>
    CSV_COLUMNS.map((column) => {
      const price = product.price as { amount: number; currency: string } | undefined;
      if (column === 'price_amount') return csvCell(price?.amount);
      if (column === 'currency') return csvCell(price?.currency);
      return csvCell(product[column]);
    }).join(','),
  );
  return `${CSV_COLUMNS.join(',')}\r\n${rows.map((row) => `${row}\r\n`).join('')}`;
}

export const productsNdjson = (products: unknown[]) => products.map((p) => `${JSON.stringify(p)}\n`).join('');

// --- Responses ----------------------------------------------------------------------------------

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

const mediaType = (header: unknown) =>
  typeof header === 'string' ? header.split(';')[0]!.trim().toLowerCase() : undefined;

/**
 * What an answer must be, per the document: below 500; a documented status (or one of the
 * exceptions the caller allows); errors as problem+json whose `status` is the answer's; bodies
 * valid against the documented schema of their status and media type; no body where none is
 * documented; documented headers present (unless the caller says they are optional) and valid
 * against their schemas. Answers the violations found.
 */
export function checkAnswer(
  schemas: DocumentSchemas,
  operation: Operation,
  answer: Answer,
  {
    allowStatus = [],
    method = operation.method,
    optionalHeaders = [],
  }: { allowStatus?: number[]; method?: string; optionalHeaders?: string[] } = {},
): string[] {
  const violations: string[] = [];
  const { status } = answer;
  if (status >= 500) violations.push(`status ${status}: a server error`);
  const declared = operation.responses[String(status)];
  if (!declared && !allowStatus.includes(status)) {
    violations.push(`status ${status} is not documented (${Object.keys(operation.responses).join(', ')})`);
  }
  const type = mediaType(answer.headers['content-type']);
  if (status >= 400) {
    if (type !== 'application/problem+json')
      violations.push(`error answered as ${type ?? 'no Content-Type'}, not problem+json`);
    let problem: Record<string, unknown> | undefined;
    try {
      problem = JSON.parse(answer.body) as Record<string, unknown>;
    } catch {
      violations.push('error body is not JSON');
    }
    if (problem) {
      const at = declared?.content?.['application/problem+json']
        ? `${operation.pointer}${pointer('responses', String(status), 'content', 'application/problem+json', 'schema')}`
        : '/components/schemas/Problem';
      const invalid = schemas.check(at, problem);
      if (invalid) violations.push(`problem does not match its schema: ${invalid}`);
      if (problem.status !== status)
        violations.push(`problem.status ${String(problem.status)} is not the status ${status}`);
      if (typeof problem.type !== 'string' || typeof problem.title !== 'string')
        violations.push('problem lacks type or title');
    }
    return violations;
  }
  if (!declared) return violations;
  const content = declared.content;
  if (!content || method === 'HEAD') {
    if (answer.body.length > 0)
      violations.push(`status ${status} documents no body, but one came (${clip(answer.body, 80)})`);
  } else if (!type || !content[type]) {
    violations.push(
      `Content-Type ${type ?? '(none)'} is not documented for ${status} (${Object.keys(content).join(', ')})`,
    );
  } else {
    const at = `${operation.pointer}${pointer('responses', String(status), 'content', type, 'schema')}`;
    let body: unknown = answer.body;
    if (type === 'application/json') {
      try {
        body = JSON.parse(answer.body);
      } catch {
        violations.push('body is not JSON');
      }
    }
    const invalid = schemas.check(at, body);
    if (invalid) violations.push(`body does not match the ${status} schema: ${invalid}`);
  }
  for (const [name, header] of Object.entries(declared.headers ?? {})) {
    const value = answer.headers[name.toLowerCase()];
    if (value === undefined) {
      if (!optionalHeaders.includes(name)) violations.push(`header ${name} is documented but missing`);
      continue;
    }
    const at = `${operation.pointer}${pointer('responses', String(status), 'headers', name, 'schema')}`;
    const schema = schemas.resolve(header.schema);
    const typed = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value;
    const invalid = schemas.check(at, typed);
    if (invalid) violations.push(`header ${name}: ${invalid}`);
  }
  return violations;
}

/** Every schema the document holds, compiled: a keyword Ajv does not know is a malformed schema. */
export function compileEverySchema(schemas: DocumentSchemas, operations: Operation[]): string[] {
  const failures: string[] = [];
  const attempt = (at: string) => {
    try {
      schemas.at(at);
    } catch (error) {
      failures.push(`${at}: ${(error as Error).message}`);
    }
  };
  for (const name of Object.keys(schemas.document.components.schemas)) attempt(pointer('components', 'schemas', name));
  for (const operation of operations) {
    operation.parameters.forEach((_, i) =>
      attempt(`${operation.pointer}${pointer('parameters', String(i), 'schema')}`),
    );
    for (const type of Object.keys(operation.body?.media ?? {})) {
      attempt(`${operation.pointer}${pointer('requestBody', 'content', type, 'schema')}`);
    }
    for (const [status, response] of Object.entries(operation.responses)) {
      for (const type of Object.keys(response.content ?? {})) {
        attempt(`${operation.pointer}${pointer('responses', status, 'content', type, 'schema')}`);
      }
      for (const name of Object.keys(response.headers ?? {})) {
        attempt(`${operation.pointer}${pointer('responses', status, 'headers', name, 'schema')}`);
      }
    }
  }
  return failures;
}

/** A stable digest of a request's identity (method, path, body), for idempotency bookkeeping. */
export const requestDigest = (method: string, url: string, payload: string | Buffer | undefined) =>
  createHash('sha256')
    .update(`${method} ${url.split('?')[0]}\n`)
    .update(payload ?? '')
    .digest('hex');

// --- Request factory ----------------------------------------------------------------------------

export interface Mutated {
  draft: Draft;
  note: string;
}

const label = (value: unknown) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? 'undefined' : clip(JSON.stringify(text).slice(1, -1), 40);
};

const asText = (value: unknown) => (typeof value === 'string' ? value : String(value));

type JsonPath = (string | number)[];

/** Every place in a JSON value (the root too), with the value there. */
function placesOf(value: unknown, path: JsonPath = []): { path: JsonPath; value: unknown }[] {
  const here = [{ path, value }];
  if (Array.isArray(value)) return here.concat(value.flatMap((item, i) => placesOf(item, [...path, i])));
  if (value && typeof value === 'object') {
    return here.concat(Object.entries(value).flatMap(([key, item]) => placesOf(item, [...path, key])));
  }
  return here;
}

/** A copy of `root` with the value at `path` replaced (or, with `remove`, deleted). */
function replaced(root: unknown, path: JsonPath, value: unknown, remove = false): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(root)) {
    const copy = [...root];
    if (remove && rest.length === 0) copy.splice(head as number, 1);
    else copy[head as number] = replaced(copy[head as number], rest, value, remove);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  if (remove && rest.length === 0) delete copy[head as string];
  else copy[head as string] = replaced(copy[head as string], rest, value, remove);
  return copy;
}

/** The schema at a JSON path of a value described by `schema` (best effort: the first fitting anyOf branch). */
function schemaAt(schemas: DocumentSchemas, schema: Schema, path: JsonPath): Schema {
  let current = schemas.resolve(schema);
  for (const step of path) {
    if (Array.isArray(current.anyOf)) {
      current = schemas.resolve(
        ((current.anyOf as Schema[]).find((s) => schemas.resolve(s).type !== 'null') ?? {}) as Schema,
      );
    }
    if (typeof step === 'number') current = schemas.resolve((current.items as Schema) ?? {});
    else {
      const properties = (current.properties as Record<string, Schema> | undefined) ?? {};
      current = schemas.resolve(properties[step] ?? ((current.additionalProperties as Schema) || {}));
    }
  }
  if (Array.isArray(current.anyOf)) {
    current = schemas.resolve(
      ((current.anyOf as Schema[]).find((s) => schemas.resolve(s).type !== 'null') ?? {}) as Schema,
    );
  }
  return current;
}

/** The JSON text of `root` with the string at `path` replaced by raw bytes (invalid UTF-8). */
function withBytes(root: unknown, path: JsonPath, bytes: number[]): Buffer {
  const marker = '\u0001MARK\u0001';
  const [before, after] = JSON.stringify(replaced(root, path, marker)).split(JSON.stringify(marker).slice(1, -1)) as [
    string,
    string,
  ];
  return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
}

const dotted = (path: JsonPath) => (path.length === 0 ? '(root)' : path.join('.'));

/** JSON text that no JSON parser should take (or that the server's parser refuses: a `__proto__` key). */
function malformedJson(text: string): { text: string; note: string }[] {
  const candidates = [
    { text: text.slice(0, Math.max(1, Math.floor(text.length / 2))), note: 'truncated' },
    { text: text.replace(/}$/, ',}'), note: 'trailing comma' },
    { text: text.replaceAll('"', "'"), note: 'single quotes' },
    { text: `${text} garbage`, note: 'trailing garbage' },
    { text: `${text}${text}`, note: 'two documents' },
    { text: text.replace(/^{/, '{/* comment */'), note: 'a comment' },
    { text: text.replace(/:(-?\d+)/, ':NaN'), note: 'NaN' },
    { text: text.replace(/^{/, '{"__proto__": {"polluted": true}, '), note: '__proto__ key' },
    {
      text: text.replace(/^{/, '{"constructor": {"prototype": {"polluted": true}}, '),
      note: 'constructor.prototype key',
    },
    { text: `{${text}`, note: 'unbalanced brace' },
  ];
  return candidates.filter(({ text: candidate }) => {
    if (/__proto__|"constructor"/.test(candidate)) return true;
    try {
      JSON.parse(candidate);
      return false;
    } catch {
      return true;
    }
  });
}

const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/json-patch+json',
  'image/png',
  null,
];

const UNKNOWN_QUERY_NAMES = [
  'fuzz',
  'expand',
  'LIMIT',
  '__proto__',
  'constructor',
  "x' OR '1'='1",
  'limit[]',
  'sort.by',
];

const UNKNOWN_FIELDS = ['unexpected', 'is_admin', 'id', 'version', 'created_at', 'Name', "'; DROP TABLE products; --"];

const BAD_IF_MATCH = ['*', 'W/"1"', '"abc"', '1', '"1", "2"', '"1234567890"', '', '"-1"', '"1'];
const BAD_IDEMPOTENCY_KEYS = ['x'.repeat(256), 'ключ', 'with space', '', 'tab\there'];

export interface FactoryOptions {
  /** The schema of one import row, for NDJSON and CSV bodies (POST /v1/products' body). */
  importRow?: Schema;
}

/**
 * Requests for an operation: valid drafts from its parameters and body schemas; invalid ones,
 * each a valid draft with one mutation the document refuses; odd ones, valid drafts written in
 * strange but allowed bytes.
 */
export class RequestFactory {
  readonly document: OpenApiDocument;
  readonly schemas: DocumentSchemas;
  readonly values: ValueGenerator;
  readonly #options: FactoryOptions;

  constructor(schemas: DocumentSchemas, hints: Hints, options: FactoryOptions = {}) {
    this.document = schemas.document;
    this.schemas = schemas;
    this.values = new ValueGenerator(schemas, hints);
    this.#options = options;
  }

  #isImport(operation: Operation) {
    return Boolean(operation.body && !operation.body.media['application/json']);
  }

  #importRows(operation: Operation): fc.Arbitrary<Record<string, unknown>[]> {
    const row = this.#options.importRow ?? {};
    const site: Site = { operation, where: 'body', name: '' };
    return fc.array(this.values.valid(row, site) as fc.Arbitrary<Record<string, unknown>>, {
      minLength: 1,
      maxLength: 4,
    });
  }

  valid(operation: Operation): fc.Arbitrary<Draft> {
    const site = (where: Site['where'], name: string): Site => ({ operation, where, name });
    const path = operation.parameters.filter((p) => p.in === 'path');
    const params = fc.record(
      Object.fromEntries(
        path.map((p) => [p.name, this.values.valid(p.schema, site('path', p.name)).map((v) => ({ value: asText(v) }))]),
      ),
    ) as fc.Arbitrary<Draft['params']>;
    const queries = operation.parameters
      .filter((p) => p.in === 'query')
      .map((p) => {
        const entries = this.values
          .valid(p.schema, site('query', p.name))
          .map((v) => (Array.isArray(v) ? v : [v]).map((item) => ({ name: p.name, value: asText(item) })));
        return p.required ? entries : fc.option(entries, { nil: undefined, freq: 2 }).map((e) => e ?? []);
      });
    const headerParams = operation.parameters.filter((p) => p.in === 'header');
    const headers = fc.record(
      Object.fromEntries(
        headerParams.map((p) => [p.name, this.values.valid(p.schema, site('header', p.name)).map(asText)]),
      ),
      { requiredKeys: [] },
    ) as fc.Arbitrary<Record<string, string>>;
    let body: fc.Arbitrary<Pick<Draft, 'body' | 'contentType'>> = fc.constant({});
    if (operation.body && this.#isImport(operation)) {
      body = fc.tuple(this.#importRows(operation), fc.boolean()).map(([rows, csv]) => ({
        body: { raw: csv ? productsCsv(rows) : productsNdjson(rows) },
        contentType: csv ? 'text/csv' : 'application/x-ndjson',
      }));
    } else if (operation.body) {
      body = this.values
        .valid(operation.body.media['application/json']!, site('body', ''))
        .map((json) => ({ body: { json }, contentType: 'application/json' }));
    }
    return fc
      .tuple(params, fc.tuple(...queries), headers, body)
      .map(([p, q, h, b]) => ({ params: p, query: q.flat(), headers: h, ...b }));
  }

  /** A valid draft with one change that the document (or the API's stated habits) refuses. */
  invalid(operation: Operation): fc.Arbitrary<Mutated> {
    return this.valid(operation).chain((draft) => fc.oneof(...this.#mutations(operation, draft)));
  }

  /** A valid draft written strangely: charset parameters, a BOM, invalid UTF-8 where any text goes, `+` for spaces. */
  odd(operation: Operation): fc.Arbitrary<Mutated> {
    return this.valid(operation).chain((draft) => fc.oneof(...this.#oddities(operation, draft)));
  }

  readonly #refused = new Map<string, string[]>();

  /** Parameter texts the schema refuses (computed once per schema: huge strings are slow to match). */
  #refusedTexts(schema: Schema): string[] {
    const key = JSON.stringify(schema);
    let texts = this.#refused.get(key);
    if (!texts) {
      // Numbers and booleans are refused by construction (the API reads only decimal numbers and
      // `true`/`false`); text is checked against the schema.
      const checkable = schema.type === 'string' || Array.isArray(schema.enum);
      texts = badParameterTexts(schema).filter((text) => !checkable || !this.schemas.accepts(schema, text));
      this.#refused.set(key, texts);
    }
    return texts;
  }

  #mutations(operation: Operation, draft: Draft): fc.Arbitrary<Mutated>[] {
    const arbitraries: fc.Arbitrary<Mutated>[] = [];
    const add = (arbitrary: fc.Arbitrary<Mutated> | undefined) => arbitrary && arbitraries.push(arbitrary);
    const accepts = (schema: Schema, value: unknown) => this.schemas.accepts(schema, value);

    for (const p of operation.parameters.filter((param) => param.in === 'path')) {
      const schema = this.schemas.resolve(p.schema);
      // An empty segment would route elsewhere (`/v1/products/` is the list).
      const texts = [...this.#refusedTexts(schema), `${draft.params[p.name]!.value}/x`].filter((text) => text !== '');
      const setPath = (value: string, encoded = false) => ({
        ...draft,
        params: { ...draft.params, [p.name]: { value, encoded } },
      });
      add(fc.constantFrom(...texts).map((text) => ({ draft: setPath(text), note: `path ${p.name}: ${label(text)}` })));
      add(
        fc.constantFrom(...INVALID_UTF8).map((raw) => ({
          draft: setPath(`${raw}${encode(draft.params[p.name]!.value)}`, true),
          note: `path ${p.name}: invalid UTF-8 ${raw}`,
        })),
      );
      // Encoded twice: decodes once to text holding a `%`.
      add(
        fc.constant({
          draft: setPath(`%2531${encode(draft.params[p.name]!.value)}`, true),
          note: `path ${p.name}: double-encoded`,
        }),
      );
    }

    const present = new Set(draft.query.map((q) => q.name));
    for (const p of operation.parameters.filter((param) => param.in === 'query')) {
      const schema = this.schemas.resolve(p.schema);
      const isArray = schema.type === 'array';
      const item = isArray ? this.schemas.resolve(schema.items as Schema) : schema;
      const checkable = item.type === 'string' || Array.isArray(item.enum);
      const others = draft.query.filter((q) => q.name !== p.name);
      const kept = isArray ? draft.query.filter((q) => q.name === p.name).slice(0, 2) : [];
      const texts = this.#refusedTexts(item);
      add(
        fc.constantFrom(...texts).map((text) => ({
          draft: { ...draft, query: [...others, ...kept, { name: p.name, value: text }] },
          note: `query ${p.name}: ${label(text)}`,
        })),
      );
      if (!checkable || (!accepts(item, '%FF') && !accepts(item, '\ufffd'))) {
        add(
          fc.constantFrom(...INVALID_UTF8).map((raw) => ({
            draft: { ...draft, query: [...others, { name: p.name, value: raw, encoded: true }] },
            note: `query ${p.name}: invalid UTF-8 ${raw}`,
          })),
        );
      }
      const valueOf = this.values.valid(item, { operation, where: 'query', name: p.name }).map(asText);
      if (isArray && typeof schema.maxItems === 'number') {
        const over = schema.maxItems + 1;
        add(
          fc.array(valueOf, { minLength: over, maxLength: over }).map((texts) => ({
            draft: { ...draft, query: [...others, ...texts.map((value) => ({ name: p.name, value }))] },
            note: `query ${p.name}: ${over} values (maxItems+1)`,
          })),
        );
      }
      if (!isArray) {
        add(
          fc.tuple(valueOf, valueOf).map(([a, b]) => ({
            draft: { ...draft, query: [...others, { name: p.name, value: a }, { name: p.name, value: b }] },
            note: `query ${p.name}: given twice`,
          })),
        );
      }
    }
    // The API refuses a parameter it does not know (a typo must not widen a query, nor a misplaced
    // `atomic` go unheeded). Outside /v1, the probes and images ignore query strings: load
    // balancers and CDNs add their own.
    if (operation.template.startsWith('/v1/')) {
      const declared = new Set(operation.parameters.filter((p) => p.in === 'query').map((p) => p.name));
      const unknown = UNKNOWN_QUERY_NAMES.filter((name) => !declared.has(name) && !present.has(name));
      add(
        fc.tuple(fc.constantFrom(...unknown), fc.constantFrom('1', 'true', '', ...INJECTIONS)).map(([name, value]) => ({
          draft: { ...draft, query: [...draft.query, { name, value }] },
          note: `query: unknown parameter ${label(name)}`,
        })),
      );
    }

    const headerNames = new Set(operation.parameters.filter((p) => p.in === 'header').map((p) => p.name));
    if (headerNames.has('if-match')) {
      add(
        fc.constantFrom(...BAD_IF_MATCH).map((value) => ({
          draft: { ...draft, headers: { ...draft.headers, 'if-match': value } },
          note: `header If-Match: ${label(value)}`,
        })),
      );
    }
    if (headerNames.has('idempotency-key')) {
      add(
        fc.constantFrom(...BAD_IDEMPOTENCY_KEYS).map((value) => ({
          draft: { ...draft, headers: { ...draft.headers, 'idempotency-key': value } },
          note: `header Idempotency-Key: ${label(value)}`,
        })),
      );
    }

    if (operation.body && this.#isImport(operation)) this.#importMutations(draft).forEach(add);
    else if (operation.body) this.#bodyMutations(operation, draft).forEach(add);

    for (const method of undeclaredMethods(this.document, operation.template)) {
      add(fc.constant({ draft: { ...draft, method }, note: `method ${method} (not on this path)` }));
    }
    return arbitraries;
  }

  #bodyMutations(operation: Operation, draft: Draft): fc.Arbitrary<Mutated>[] {
    const schema = operation.body!.media['application/json']!;
    const json = draft.body && 'json' in draft.body ? draft.body.json : {};
    const refused = (value: unknown) => !this.schemas.accepts(schema, value);
    const withJson = (value: unknown): Draft => ({ ...draft, body: { json: value }, contentType: 'application/json' });
    const places = placesOf(json);
    const place = fc.constantFrom(...places);
    const objects = places.filter(({ value }) => value && typeof value === 'object' && !Array.isArray(value));
    const inner = places.filter(({ path }) => path.length > 0);
    const strings = places.filter(({ value }) => typeof value === 'string' && (value as string).length > 0);
    const text = JSON.stringify(json);
    const malformed = fc.constantFrom(...malformedJson(text));
    // Each kind picks a place, then a change there; the document must refuse the result.
    const arbitraries: fc.Arbitrary<Mutated>[] = [
      place
        .chain(({ path }) =>
          fc.constantFrom(...badJsonValues(schemaAt(this.schemas, schema, path))).map((value) => ({
            draft: withJson(replaced(json, path, value)),
            note: `body ${dotted(path)}: ${label(value)}`,
          })),
        )
        .filter(({ draft: d }) => refused((d.body as { json: unknown }).json)),
      malformed.map(({ text: raw, note }) => ({
        draft: { ...draft, body: { raw }, contentType: 'application/json' },
        note: `body: malformed JSON (${note})`,
      })),
      fc.constantFrom(...WRONG_CONTENT_TYPES).map((contentType) => ({
        draft: { ...draft, body: { raw: text }, contentType },
        note: `body: Content-Type ${contentType ?? '(none)'}`,
      })),
      fc.constant({ draft: { ...draft, body: { raw: '' }, contentType: 'application/json' }, note: 'body: empty' }),
      fc.constant({ draft: { ...draft, body: undefined, contentType: null }, note: 'body: none' }),
      // Over the body limit (1 MiB by default): refused before it is parsed.
      fc.constant(null).map(() => ({
        draft: { ...draft, body: { raw: `{"padding":"${'x'.repeat(1_100_000)}"}` }, contentType: 'application/json' },
        note: 'body: over the size limit',
      })),
    ];
    if (objects.length > 0) {
      arbitraries.push(
        fc
          .tuple(fc.constantFrom(...objects), fc.constantFrom(...UNKNOWN_FIELDS))
          .map(([{ path }, name]) => ({
            draft: withJson(replaced(json, [...path, name], 1)),
            note: `body ${dotted(path)}: unknown field ${label(name)}`,
          }))
          .filter(({ draft: d }) => refused((d.body as { json: unknown }).json)),
      );
    }
    const removable = inner.filter(({ path }) => refused(replaced(json, path, undefined, true)));
    if (removable.length > 0) {
      arbitraries.push(
        fc.constantFrom(...removable).map(({ path }) => ({
          draft: withJson(replaced(json, path, undefined, true)),
          note: `body ${dotted(path)}: removed`,
        })),
      );
    }
    // Invalid UTF-8 inside a string whose schema refuses the replacement character it decodes to.
    const broken = strings
      .map(({ path }) => ({ path, bytes: withBytes(json, path, [0xff, 0xfe]) }))
      .filter(({ bytes }) => refused(JSON.parse(bytes.toString('utf8'))));
    if (broken.length > 0) {
      arbitraries.push(
        fc.constantFrom(...broken).map(({ path, bytes }) => ({
          draft: { ...draft, body: { raw: bytes }, contentType: 'application/json' },
          note: `body ${dotted(path)}: invalid UTF-8 bytes`,
        })),
      );
    }
    return arbitraries;
  }

  #importMutations(draft: Draft): fc.Arbitrary<Mutated>[] {
    const raw = draft.body && 'raw' in draft.body ? draft.body.raw : '';
    const valid = typeof raw === 'string' ? raw : raw.toString('utf8');
    const badRows = [
      '{oops',
      '{"sku": 1}',
      '[]',
      'null',
      JSON.stringify({
        sku: 'BAD-CATEGORY',
        slug: 'bad-category',
        name: 'x',
        category: 'no-such-category',
        price: { amount: 1, currency: 'EUR' },
      }),
      JSON.stringify({
        sku: 'BAD-PRICE',
        slug: 'bad-price',
        name: 'x',
        category: 'running',
        price: { amount: -1, currency: 'EUR' },
      }),
      JSON.stringify({
        sku: 'BAD-NAME',
        slug: 'bad-name',
        name: 'nul\u0000',
        category: 'running',
        price: { amount: 1, currency: 'EUR' },
      }),
    ];
    const ndjson = draft.contentType === 'application/x-ndjson';
    const query = draft.query.filter((q) => q.name !== 'atomic');
    return [
      fc
        .constantFrom(...WRONG_CONTENT_TYPES.filter((t) => t !== 'text/plain'), 'application/json', 'text/plain')
        .map((contentType) => ({
          draft: { ...draft, contentType },
          note: `body: Content-Type ${contentType ?? '(none)'}`,
        })),
      // All or nothing: one bad row refuses the whole import (422) and writes nothing.
      fc.tuple(fc.constantFrom(...badRows), fc.nat()).map(([row, at]) => {
        const lines = ndjson ? valid.split('\n').filter(Boolean) : [];
        lines.splice(at % (lines.length + 1), 0, row);
        const { 'idempotency-key': _, ...headers } = draft.headers;
        return {
          draft: {
            ...draft,
            headers,
            query: [...query, { name: 'atomic', value: 'true' }],
            body: { raw: `${lines.join('\n')}\n` },
            contentType: 'application/x-ndjson',
          },
          note: `import: atomic with a bad row ${label(row)}`,
        };
      }),
      fc.constant({
        draft: {
          ...draft,
          body: { raw: 'sku,slug,name,category,price_amount,currency,colour\nU-1,u-1,U,running,1,EUR,red\n' },
          contentType: 'text/csv',
        },
        note: 'import: CSV with an unknown column',
      }),
    ];
  }

  #oddities(operation: Operation, draft: Draft): fc.Arbitrary<Mutated>[] {
    const arbitraries: fc.Arbitrary<Mutated>[] = [];
    if (draft.body && 'json' in draft.body) {
      const text = JSON.stringify(draft.body.json);
      arbitraries.push(
        fc
          .constantFrom('application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON')
          .map((contentType) => ({
            draft: { ...draft, contentType },
            note: `Content-Type ${contentType}`,
          })),
        fc.constant({ draft: { ...draft, body: { raw: `\ufeff${text}` } }, note: 'body with a byte order mark' }),
      );
      const schema = operation.body!.media['application/json']!;
      const json = draft.body.json;
      const broken = placesOf(json)
        .filter(({ value }) => typeof value === 'string')
        .map(({ path }) => ({ path, bytes: withBytes(json, path, [0xc3, 0x28, 0xff]) }))
        .filter(({ bytes }) => this.schemas.accepts(schema, JSON.parse(bytes.toString('utf8'))));
      if (broken.length > 0) {
        arbitraries.push(
          fc.constantFrom(...broken).map(({ path, bytes }) => ({
            draft: { ...draft, body: { raw: bytes } },
            note: `body ${dotted(path)}: invalid UTF-8 bytes where any text goes`,
          })),
        );
      }
    }
    for (const p of operation.parameters.filter((param) => param.in === 'query')) {
      const schema = this.schemas.resolve(p.schema);
      if (schema.type !== 'string' || !this.schemas.accepts(schema, '%FF') || !this.schemas.accepts(schema, '\ufffd'))
        continue;
      const others = draft.query.filter((q) => q.name !== p.name);
      arbitraries.push(
        fc.constantFrom(...INVALID_UTF8, '%00', 'a+b+c', '%2B%2B', '%25', 'a%20%20b').map((raw) => ({
          draft: { ...draft, query: [...others, { name: p.name, value: raw, encoded: true }] },
          note: `query ${p.name}: raw ${raw}`,
        })),
      );
    }
    arbitraries.push(
      fc.constantFrom('a'.repeat(128), 'a'.repeat(129), '../etc', 'é', '<script>').map((id) => ({
        draft: { ...draft, headers: { ...draft.headers, 'x-request-id': id } },
        note: `X-Request-Id ${label(id)}`,
      })),
      fc.constantFrom('text/html', 'application/xml', '*/*;q=0', 'application/problem+json').map((accept) => ({
        draft: { ...draft, headers: { ...draft.headers, accept } },
        note: `Accept ${accept}`,
      })),
    );
    if (operation.method === 'GET') {
      arbitraries.push(
        fc.constantFrom('*', '"nope"', 'W/"x", "y"', 'garbage').map((tag) => ({
          draft: { ...draft, headers: { ...draft.headers, 'if-none-match': tag } },
          note: `If-None-Match ${tag}`,
        })),
      );
    }
    return arbitraries;
  }
}
