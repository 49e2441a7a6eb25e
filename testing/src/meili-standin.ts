/**
 * STAND-IN for a real Meilisearch server, for tests only.
 *
 * An in-process HTTP server that answers what the official `meilisearch` client (v0.62) sends for
 * indexes, settings, documents, search, swaps and tasks, in the shapes of Meilisearch 1.53's own
 * OpenAPI document: every request and every answer is checked against it (meili-contract.ts) and
 * any mismatch is collected in `violations`. Tasks are queued and processed one at a time, in uid
 * order, on a timer, as the server's scheduler does. Faults can be injected (some or all tasks
 * failed, tasks held, a server down, slow or failing answers) and cleared.
 *
 * What it simplifies (its search is not Meilisearch's; never trust relevance measured on it):
 * - matching: text is lowercased and stripped of accents, split into words; every query word (the
 *   first 10) must match a word of a searchable attribute (matchingStrategy is always `all`), the
 *   last one as a prefix; words of 5 (9) letters and more may have 1 (2) typos (Damerau distance).
 *   No stop words, synonyms, phrases, negative words, proximity or exactness.
 * - ranking: query words found in the first searchable attribute, then primary key ascending;
 *   `sort` takes precedence over both. `_rankingScore` only follows that order.
 * - filters: `=`, `!=`, `>`, `>=`, `<`, `<=`, `a TO b`, `IN [...]`, `NOT IN`, `AND`, `OR`, `NOT`,
 *   parentheses, quoted values; equality ignores case, comparisons are numeric only. No EXISTS,
 *   IS NULL/EMPTY, CONTAINS, STARTS WITH or geo filters.
 * - documents are listed (fetch, browse) in primary key order, numeric ids numerically; the real
 *   server lists them by internal id (about insertion order).
 * - facets: counts are case-folded, `*` patterns expand to top-level attributes only.
 * - ignored search parameters: crop, matches position, distinct, attributesToSearchOn,
 *   rankingScoreThreshold, vectors and hybrid, locales.
 * - a swap does not rewrite the indexUid of past tasks; there are no batches beyond `batchUid`,
 *   no API keys other than the master key, no task cancelation or deletion.
 * - routes of the contract it does not implement (GET search, multi-search, facet search, the
 *   per-setting routes, keys, stats, batches, dumps...) answer 501 and count as a violation.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { validateRequest, validateResponse } from './meili-contract.ts';

export type Document = Record<string, unknown>;
export interface MeiliError {
  message: string;
  code: string;
  type: string;
  link: string;
}
export interface TaskView {
  uid: number;
  batchUid: number | null;
  indexUid: string | null;
  status: 'enqueued' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  type: string;
  canceledBy: number | null;
  details: Record<string, unknown> | null;
  error: MeiliError | null;
  duration: string | null;
  enqueuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

type Settings = Record<string, unknown> & {
  displayedAttributes: string[];
  searchableAttributes: string[];
  filterableAttributes: (string | { attributePatterns: string[]; features?: { filter?: FilterFeatures } })[];
  sortableAttributes: string[];
  typoTolerance: {
    enabled?: boolean;
    minWordSizeForTypos?: { oneTypo?: number; twoTypos?: number };
    [key: string]: unknown;
  };
  faceting: { maxValuesPerFacet?: number; sortFacetValuesBy?: Record<string, 'alpha' | 'count'> };
  pagination: { maxTotalHits?: number };
};
interface FilterFeatures {
  equality?: boolean;
  comparison?: boolean;
}
interface Index {
  uid: string;
  primaryKey: string | null;
  createdAt: string;
  updatedAt: string;
  documents: Map<string, Document>;
  settings: Settings;
}
interface Task {
  view: TaskView;
  run: (view: TaskView) => void;
}
type Answer = [status: number, body: unknown];
type Handler = (params: string[], query: URLSearchParams, body: unknown, request: IncomingMessage) => Answer;

interface SearchBody {
  q?: string | null;
  offset?: number;
  limit?: number;
  page?: number | null;
  hitsPerPage?: number | null;
  filter?: unknown;
  sort?: string[] | null;
  facets?: string[] | null;
  attributesToRetrieve?: string[] | null;
  attributesToHighlight?: string[] | null;
  highlightPreTag?: string;
  highlightPostTag?: string;
  showRankingScore?: boolean;
}
interface BrowseBody {
  offset?: number;
  limit?: number;
  fields?: string[] | null;
  filter?: unknown;
  ids?: string[] | null;
  sort?: string[] | null;
}

const errorBody = (code: string, message: string, type = 'invalid_request'): MeiliError => ({
  message,
  code,
  type,
  link: `https://docs.meilisearch.com/errors#${code}`,
});

/** An error answer, or (thrown while processing a task) the task's error. */
class MeiliFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type = 'invalid_request',
  ) {
    super(message);
  }
  get body() {
    return errorBody(this.code, this.message, this.type);
  }
}

const notFound = (uid: string) => new MeiliFailure('index_not_found', `Index \`${uid}\` not found.`, 404);
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: string | null) => (value === null ? undefined : value.split(',').filter(Boolean));
const number = (value: string | null) => (value === null ? undefined : Number(value));
const quote = (values: string[]) => values.map((value) => `\`${value}\``).join(', ');

const defaultSettings = (): Settings => ({
  displayedAttributes: ['*'],
  searchableAttributes: ['*'],
  filterableAttributes: [],
  sortableAttributes: [],
  rankingRules: ['words', 'typo', 'proximity', 'attributeRank', 'sort', 'wordPosition', 'exactness'],
  stopWords: [],
  nonSeparatorTokens: [],
  separatorTokens: [],
  dictionary: [],
  synonyms: {},
  distinctAttribute: null,
  proximityPrecision: 'byWord',
  typoTolerance: {
    enabled: true,
    minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
    disableOnWords: [],
    disableOnAttributes: [],
    disableOnNumbers: false,
  },
  faceting: { maxValuesPerFacet: 100, sortFacetValuesBy: { '*': 'alpha' } },
  pagination: { maxTotalHits: 1000 },
  embedders: {},
  searchCutoffMs: null,
  localizedAttributes: null,
  facetSearch: true,
  prefixSearch: 'indexingTime',
});

/** PATCH semantics: absent is unchanged, null is reset, the nested settings objects are merged. */
function applySettings(settings: Settings, patch: Record<string, unknown>) {
  const defaults = defaultSettings();
  const merge = (current: unknown, next: unknown): unknown =>
    isObject(current) && isObject(next)
      ? { ...current, ...Object.fromEntries(Object.entries(next).map(([k, v]) => [k, merge(current[k], v)])) }
      : next;
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) settings[key] = defaults[key] ?? null;
    else if (['typoTolerance', 'faceting', 'pagination'].includes(key)) settings[key] = merge(settings[key], value);
    else settings[key] = value;
  }
}

// ---------------------------------------------------------------------------------------------
// Documents: values at a path, projection, primary keys

/** The scalar values at a dotted path; arrays (at any level) contribute each of their elements. */
function valuesAt(value: unknown, path: string): unknown[] {
  const walk = (current: unknown, keys: string[]): unknown[] => {
    if (Array.isArray(current)) return current.flatMap((item) => walk(item, keys));
    if (keys.length === 0) return current === null || current === undefined || isObject(current) ? [] : [current];
    return isObject(current) ? walk(current[keys[0]!], keys.slice(1)) : [];
  };
  return walk(value, path.split('.'));
}

function project(document: Document, fields: string[] | null | undefined, displayed: string[]): Document {
  const pick = (value: Document, wanted: string[]): Document => {
    const picked: Document = {};
    for (const [key, field] of Object.entries(value)) {
      if (wanted.includes(key)) picked[key] = field;
      const nested = wanted.filter((name) => name.startsWith(`${key}.`)).map((name) => name.slice(key.length + 1));
      if (!wanted.includes(key) && nested.length > 0 && isObject(field)) picked[key] = pick(field, nested);
    }
    return picked;
  };
  let projected = displayed.includes('*') ? { ...document } : pick(document, displayed);
  if (fields && !fields.includes('*')) projected = pick(projected, fields);
  return projected;
}

const integerId = /^-?\d+$/;
/** Numeric ids numerically and first, then the others as strings. */
function idOrder(a: string, b: string) {
  const numeric = Number(integerId.test(b)) - Number(integerId.test(a));
  if (numeric !== 0) return numeric;
  if (integerId.test(a)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function inferPrimaryKey(document: Document): string {
  const candidates = Object.keys(document).filter((key) => key.toLowerCase().endsWith('id'));
  if (candidates.length === 1) return candidates[0]!;
  const code = `index_primary_key_${candidates.length ? 'multiple_candidates' : 'no_candidate'}_found`;
  throw new MeiliFailure(code, `The primary key inference failed: fields ending with \`id\`: [${quote(candidates)}].`);
}

function documentId(document: Document, primaryKey: string): string {
  const id = document[primaryKey];
  if (id === undefined)
    throw new MeiliFailure('missing_document_id', `Document doesn't have a \`${primaryKey}\` attribute.`);
  const valid = Number.isInteger(id) || (typeof id === 'string' && /^[A-Za-z0-9_-]{1,511}$/.test(id));
  if (valid) return String(id);
  // Meilisearch's rule: an integer, or 1 to 511 bytes of a-z A-Z 0-9 - _.
  throw new MeiliFailure('invalid_document_id', `Document identifier \`${JSON.stringify(id)}\` is invalid.`);
}

// ---------------------------------------------------------------------------------------------
// Filters: a recursive-descent parser for the subset of the syntax named in the header

type Operator = '=' | '!=' | '>' | '>=' | '<' | '<=';
type Filter =
  | { kind: 'and' | 'or'; parts: Filter[] }
  | { kind: 'not'; part: Filter }
  | { kind: 'compare'; attribute: string; operator: Operator; value: string }
  | { kind: 'in'; attribute: string; values: string[] }
  | { kind: 'range'; attribute: string; from: string; to: string };
interface Token {
  kind: 'punctuation' | 'operator' | 'quoted' | 'word';
  text: string;
}

const TOKENS =
  /\s+|(?<punctuation>[()[\],])|(?<operator>!=|>=|<=|=|>|<)|(?<quoted>"(?:\\.|[^\\"])*"|'(?:\\.|[^\\'])*')|(?<word>[^\s()[\],=!<>"']+)|(?<other>.)/gsy;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  for (const { groups = {}, index } of source.matchAll(TOKENS)) {
    const [kind, text] = Object.entries(groups).find(([, text]) => text !== undefined) ?? [];
    if (kind === 'other') throw new Error(`Unexpected \`${text}\` at position ${index + 1} (an unclosed quote?).`);
    if (kind === 'quoted') tokens.push({ kind, text: text!.slice(1, -1).replace(/\\(.)/g, '$1') });
    else if (kind) tokens.push({ kind: kind as Token['kind'], text: text! });
  }
  return tokens;
}

function parseFilter(source: string): Filter {
  const tokens = tokenize(source);
  let at = 0;
  const keyword = (text: string, ahead = 0) => tokens[at + ahead]?.kind === 'word' && tokens[at + ahead]?.text === text;
  const punctuation = (text: string) => tokens[at]?.kind === 'punctuation' && tokens[at]?.text === text;
  const expect = (text: string) => {
    if (!punctuation(text)) throw new Error(`Expected \`${text}\` at \`${rest()}\`.`);
    at += 1;
  };
  const rest = () =>
    tokens
      .slice(at)
      .map((token) => token.text)
      .join(' ') || 'the end';
  const value = (what: string) => {
    const token = tokens[at];
    if (token?.kind !== 'word' && token?.kind !== 'quoted') throw new Error(`Expected ${what} at \`${rest()}\`.`);
    at += 1;
    return token.text;
  };
  const skip = (count: number) => {
    at += count;
    return true;
  };
  const values = () => {
    expect('[');
    const found: string[] = [];
    while (!punctuation(']')) {
      found.push(value('a value'));
      if (!punctuation(']')) expect(',');
    }
    expect(']');
    return found;
  };
  const condition = (): Filter => {
    const attribute = value('an attribute');
    const token = tokens[at];
    if (token?.kind === 'operator') {
      at += 1;
      return { kind: 'compare', attribute, operator: token.text as Operator, value: value('a value') };
    }
    if (keyword('IN') && skip(1)) return { kind: 'in', attribute, values: values() };
    if (keyword('NOT') && keyword('IN', 1) && skip(2))
      return { kind: 'not', part: { kind: 'in', attribute, values: values() } };
    if (keyword('TO', 1)) {
      const from = value('a value');
      at += 1;
      return { kind: 'range', attribute, from, to: value('a value') };
    }
    throw new Error(`Was expecting an operation (of the stand-in's subset) at \`${rest()}\`.`);
  };
  const primary = (): Filter => {
    if (keyword('NOT') && skip(1)) return { kind: 'not', part: primary() };
    if (!punctuation('(')) return condition();
    at += 1;
    const inner = or();
    expect(')');
    return inner;
  };
  const chain = (word: 'AND' | 'OR', next: () => Filter): Filter => {
    const parts = [next()];
    while (keyword(word) && skip(1)) parts.push(next());
    return parts.length === 1 ? parts[0]! : { kind: word === 'AND' ? 'and' : 'or', parts };
  };
  const and = () => chain('AND', primary);
  const or = () => chain('OR', and);
  const filter = or();
  if (at < tokens.length) throw new Error(`Found unexpected characters at the end of the filter: \`${rest()}\`.`);
  return filter;
}

/** The `filter` parameter: a string, or an array of strings and arrays of strings (OR inside, AND outside). */
function filterOf(parameter: unknown, code: string): Filter | undefined {
  try {
    if (parameter === null || parameter === undefined) return undefined;
    if (typeof parameter === 'string') return parameter.trim() === '' ? undefined : parseFilter(parameter);
    if (Array.isArray(parameter)) {
      const parts = parameter.map((item): Filter | undefined => {
        if (typeof item === 'string') return filterOf(item, code);
        if (Array.isArray(item) && item.every((inner) => typeof inner === 'string')) {
          return { kind: 'or', parts: item.map(parseFilter) };
        }
        throw new Error('Invalid syntax for the filter parameter: expected a string or an array of strings.');
      });
      const defined = parts.filter((part) => part !== undefined);
      return defined.length === 0 ? undefined : { kind: 'and', parts: defined };
    }
    throw new Error('Invalid syntax for the filter parameter: expected a string or an array.');
  } catch (error) {
    if (error instanceof MeiliFailure) throw error;
    throw new MeiliFailure(code, (error as Error).message);
  }
}

interface FilterRule {
  patterns: string[];
  equality: boolean;
  comparison: boolean;
}
/** A plain attribute allows every operator; a granular rule defaults to equality only, like Meilisearch. */
const filterRules = (settings: Settings): FilterRule[] =>
  settings.filterableAttributes.map((rule) =>
    typeof rule === 'string'
      ? { patterns: [rule], equality: true, comparison: true }
      : {
          patterns: rule.attributePatterns,
          equality: rule.features?.filter?.equality ?? true,
          comparison: rule.features?.filter?.comparison ?? false,
        },
  );
const matchesPattern = (pattern: string, attribute: string) =>
  pattern === attribute ||
  attribute.startsWith(`${pattern}.`) ||
  (pattern.includes('*') &&
    new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ).test(attribute));
const ruleFor = (attribute: string, rules: FilterRule[]) =>
  rules.find((rule) => rule.patterns.some((pattern) => matchesPattern(pattern, attribute)));

function checkFilterable(filter: Filter, rules: FilterRule[], code: string) {
  const check = (attribute: string, operator: string) => {
    const rule = ruleFor(attribute, rules);
    const patterns = quote(rules.flatMap((r) => r.patterns));
    if (!rule) throw new MeiliFailure(code, `Attribute \`${attribute}\` is not filterable. Available: [${patterns}].`);
    const comparison = !['=', '!=', 'IN'].includes(operator);
    if (comparison ? !rule.comparison : !rule.equality) {
      throw new MeiliFailure(
        code,
        `Filter operator \`${operator}\` is not allowed for the attribute \`${attribute}\`.`,
      );
    }
  };
  const walk = (node: Filter): void => {
    if ('parts' in node) node.parts.forEach(walk);
    else if (node.kind === 'not') walk(node.part);
    else check(node.attribute, node.kind === 'compare' ? node.operator : node.kind === 'in' ? 'IN' : 'TO');
  };
  walk(filter);
}

const COMPARISONS: Record<'>' | '>=' | '<' | '<=', (a: number, b: number) => boolean> = {
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
};
const equals = (value: unknown, literal: string) =>
  typeof value === 'number'
    ? literal.trim() !== '' && Number(literal) === value
    : String(value).toLowerCase() === literal.toLowerCase();

function matches(filter: Filter, document: Document): boolean {
  switch (filter.kind) {
    case 'and':
      return filter.parts.every((part) => matches(part, document));
    case 'or':
      return filter.parts.some((part) => matches(part, document));
    case 'not':
      return !matches(filter.part, document);
    case 'in':
      return valuesAt(document, filter.attribute).some((value) =>
        filter.values.some((literal) => equals(value, literal)),
      );
    case 'range':
      return valuesAt(document, filter.attribute).some(
        (value) => typeof value === 'number' && value >= Number(filter.from) && value <= Number(filter.to),
      );
    case 'compare': {
      const values = valuesAt(document, filter.attribute);
      const { operator, value: literal } = filter;
      if (operator === '=') return values.some((value) => equals(value, literal));
      if (operator === '!=') return !values.some((value) => equals(value, literal));
      return values.some((value) => typeof value === 'number' && COMPARISONS[operator](value, Number(literal)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sort

const scalarOrder = (a: unknown, b: unknown) => {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return String(a).toLowerCase().localeCompare(String(b).toLowerCase());
};

/** Numbers before strings; a document without the attribute last, whatever the direction. */
function sorter(sort: string[] | null | undefined, sortable: string[], code: string) {
  if (!sort || sort.length === 0) return undefined;
  const criteria = sort.map((criterion) => {
    const parsed = /^(.+):(asc|desc)$/.exec(criterion);
    if (!parsed) throw new MeiliFailure(code, `Invalid syntax for the sort parameter: \`${criterion}\`.`);
    const attribute = parsed[1]!;
    if (!sortable.some((name) => attribute === name || attribute.startsWith(`${name}.`))) {
      throw new MeiliFailure(code, `Attribute \`${attribute}\` is not sortable. Available: [${quote(sortable)}].`);
    }
    return { attribute, sign: parsed[2] === 'asc' ? 1 : -1 };
  });
  const key = (document: Document, attribute: string, sign: number) => {
    const values = valuesAt(document, attribute).filter(
      (value) => typeof value === 'number' || typeof value === 'string',
    );
    return values.sort((a, b) => sign * scalarOrder(a, b))[0];
  };
  return (a: Document, b: Document) => {
    for (const { attribute, sign } of criteria) {
      const [x, y] = [key(a, attribute, sign), key(b, attribute, sign)];
      const order =
        x === undefined || y === undefined
          ? Number(x === undefined) - Number(y === undefined)
          : sign * scalarOrder(x, y);
      if (order !== 0) return order;
    }
    return 0;
  };
}

// ---------------------------------------------------------------------------------------------
// Text matching

const normalise = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const wordsOf = (text: string) =>
  normalise(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);

/** Damerau (optimal string alignment) distance, which counts a transposition as one typo. */
function distance(a: string, b: string): number {
  const width = b.length + 1;
  const d = new Array<number>((a.length + 1) * width).fill(0);
  for (let i = 0; i <= a.length; i++) d[i * width] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * width + j]! + 1, d[i * width + j - 1]! + 1, d[(i - 1) * width + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[(i - 2) * width + j - 2]! + 1);
      d[i * width + j] = best;
    }
  }
  return d[a.length * width + b.length]!;
}

interface Typos {
  oneTypo: number;
  twoTypos: number;
}
/** How a document word matches a query word: 'word' (whole), 'prefix' (its start), or not at all. */
function match(query: string, word: string, prefix: boolean, typos: Typos | null): 'word' | 'prefix' | undefined {
  if (word === query) return 'word';
  if (prefix && word.startsWith(query)) return 'prefix';
  const allowed = !typos ? 0 : query.length >= typos.twoTypos ? 2 : query.length >= typos.oneTypo ? 1 : 0;
  if (allowed === 0) return undefined;
  if (Math.abs(word.length - query.length) <= allowed && distance(query, word) <= allowed) return 'word';
  if (prefix && word.length > query.length && distance(query, word.slice(0, query.length)) <= allowed) return 'prefix';
  return undefined;
}

const searchableAttributes = (document: Document, settings: Settings) =>
  settings.searchableAttributes.includes('*')
    ? Object.keys(document).filter((key) => valuesAt(document, key).some((value) => typeof value === 'string'))
    : settings.searchableAttributes;

interface Query {
  terms: string[];
  prefixLast: boolean;
  typos: Typos | null;
}

/** Query words found in the first searchable attribute, or null when a query word is found nowhere. */
function relevance(document: Document, settings: Settings, query: Query): number | null {
  const words = searchableAttributes(document, settings).map((attribute) =>
    valuesAt(document, attribute).flatMap((value) => (typeof value === 'string' ? wordsOf(value) : [])),
  );
  let inFirst = 0;
  for (const [i, term] of query.terms.entries()) {
    const found = (attribute: string[] | undefined) =>
      attribute?.some((word) => match(term, word, query.prefixLast && i === query.terms.length - 1, query.typos));
    if (!words.some(found)) return null;
    if (found(words[0])) inFirst += 1;
  }
  return inFirst;
}

function highlight(text: string, query: Query, pre: string, post: string): string {
  return text.replace(/[\p{L}\p{N}\p{M}]+/gu, (original) => {
    const word = normalise(original);
    for (const [i, term] of query.terms.entries()) {
      const how = match(term, word, query.prefixLast && i === query.terms.length - 1, query.typos);
      if (how === 'word') return `${pre}${original}${post}`;
      if (how === 'prefix') return `${pre}${original.slice(0, term.length)}${post}${original.slice(term.length)}`;
    }
    return original;
  });
}

/** `_formatted`: the retrieved attributes, highlighted where asked, numbers as strings like Meilisearch. */
function formatted(document: Document, highlighted: string[], mark: (text: string) => string): Document {
  const format = (value: unknown, on: boolean): unknown => {
    if (typeof value === 'string') return on ? mark(value) : value;
    if (typeof value === 'number') return String(value);
    if (Array.isArray(value)) return value.map((item) => format(item, on));
    if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, format(v, on)]));
    return value;
  };
  const all = highlighted.includes('*');
  return Object.fromEntries(
    Object.entries(document).map(([key, value]) => [key, format(value, all || highlighted.includes(key))]),
  );
}

function search(index: Index, body: SearchBody) {
  const started = performance.now();
  const { settings } = index;
  const rules = filterRules(settings);
  const filter = filterOf(body.filter, 'invalid_search_filter');
  if (filter) checkFilterable(filter, rules, 'invalid_search_filter');
  const order = sorter(body.sort, settings.sortableAttributes, 'invalid_search_sort');
  const facets = facetAttributes(body.facets, rules, index);
  const q = body.q ?? '';
  const { enabled = true, minWordSizeForTypos: sizes = {} } = settings.typoTolerance;
  const query: Query = {
    terms: wordsOf(q).slice(0, 10),
    prefixLast: !/\s$/.test(q),
    typos: enabled ? { oneTypo: sizes.oneTypo ?? 5, twoTypos: sizes.twoTypos ?? 9 } : null,
  };

  const found: { id: string; document: Document; score: number }[] = [];
  for (const [id, document] of index.documents) {
    if (filter && !matches(filter, document)) continue;
    const score = query.terms.length > 0 ? relevance(document, settings, query) : 0;
    if (score !== null) found.push({ id, document, score });
  }
  found.sort((a, b) => order?.(a.document, b.document) || b.score - a.score || idOrder(a.id, b.id));

  const maxTotalHits = settings.pagination.maxTotalHits ?? 1000;
  const total = Math.min(found.length, maxTotalHits);
  let window: { start: number; end: number };
  let pagination: Record<string, number>;
  if (body.page != null || body.hitsPerPage != null) {
    const page = body.page ?? 1;
    const hitsPerPage = body.hitsPerPage ?? 20;
    const start = Math.max(0, (page - 1) * hitsPerPage);
    window = page === 0 ? { start: 0, end: 0 } : { start, end: Math.min(start + hitsPerPage, total) };
    pagination = {
      hitsPerPage,
      page,
      totalPages: hitsPerPage === 0 ? 0 : Math.ceil(total / hitsPerPage),
      totalHits: total,
    };
  } else {
    const offset = body.offset ?? 0;
    const limit = body.limit ?? 20;
    window = { start: offset, end: Math.min(offset + limit, total) };
    pagination = { offset, limit, estimatedTotalHits: total };
  }

  const pre = body.highlightPreTag ?? '<em>';
  const post = body.highlightPostTag ?? '</em>';
  const hits = found.slice(window.start, Math.max(window.start, window.end)).map(({ document, score }) => {
    const hit: Document = project(document, body.attributesToRetrieve, settings.displayedAttributes);
    if (body.attributesToHighlight?.length) {
      hit._formatted = formatted({ ...hit }, body.attributesToHighlight, (text) => highlight(text, query, pre, post));
    }
    if (body.showRankingScore) hit._rankingScore = query.terms.length ? 0.5 + (0.5 * score) / query.terms.length : 1;
    return hit;
  });
  const faceting = body.facets == null ? {} : facetCounts(facets, found, settings);
  return { hits, query: q, processingTimeMs: Math.round(performance.now() - started), ...pagination, ...faceting };
}

function facetAttributes(requested: string[] | null | undefined, rules: FilterRule[], index: Index): string[] {
  const attributes = new Set<string>();
  for (const name of requested ?? []) {
    if (name.includes('*')) {
      for (const document of index.documents.values()) {
        for (const key of Object.keys(document))
          if (matchesPattern(name, key) && ruleFor(key, rules)) attributes.add(key);
      }
    } else if (ruleFor(name, rules)) attributes.add(name);
    else {
      throw new MeiliFailure('invalid_search_facets', `Invalid facet distribution: \`${name}\` is not filterable.`);
    }
  }
  return [...attributes];
}

/** Counts over every matching document; values as strings (`"true"`, `"12"`), case folded. */
function facetCounts(attributes: string[], found: { document: Document }[], settings: Settings) {
  const facetDistribution: Record<string, Record<string, number>> = {};
  const facetStats: Record<string, { min: number; max: number }> = {};
  const { maxValuesPerFacet = 100, sortFacetValuesBy = {} } = settings.faceting;
  for (const attribute of attributes) {
    const counts = new Map<string, { label: string; value: unknown; count: number }>();
    for (const { document } of found) {
      const seen = new Set<string>();
      for (const value of valuesAt(document, attribute)) {
        const key = typeof value === 'string' ? value.toLowerCase() : String(value);
        if (seen.has(key)) continue;
        seen.add(key);
        const entry = counts.get(key) ?? { label: String(value), value, count: 0 };
        entry.count += 1;
        counts.set(key, entry);
      }
    }
    const byCount = (sortFacetValuesBy[attribute] ?? sortFacetValuesBy['*']) === 'count';
    const entries = [...counts.values()].sort(
      (a, b) => (byCount && b.count - a.count) || scalarOrder(a.value, b.value),
    );
    facetDistribution[attribute] = Object.fromEntries(
      entries.slice(0, maxValuesPerFacet).map((e) => [e.label, e.count]),
    );
    const numbers = entries.map((e) => e.value).filter((value) => typeof value === 'number');
    if (numbers.length > 0) facetStats[attribute] = { min: Math.min(...numbers), max: Math.max(...numbers) };
  }
  return { facetDistribution, facetStats };
}

// ---------------------------------------------------------------------------------------------
// The server

export interface MeiliStandInOptions {
  /** The master key clients must send as `Authorization: Bearer <key>`; random unless given. */
  key?: string;
}

/** Starts a stand-in on a free port of 127.0.0.1. */
export async function startMeiliStandIn(options: MeiliStandInOptions = {}): Promise<MeiliStandIn> {
  const standIn = new MeiliStandIn(options);
  await standIn.start();
  return standIn;
}

export class MeiliStandIn {
  readonly key: string;
  /** Contract violations seen in requests and answers; a test using the stand-in expects none. */
  readonly violations: string[] = [];
  readonly requests: LoggedRequest[] = [];

  #server = createServer((request, response) => {
    this.#handle(request, response).catch(() => response.destroy());
  });
  #sockets = new Set<Socket>();
  #timers = new Set<NodeJS.Timeout>();
  #port = 0;
  #indexes = new Map<string, Index>();
  #tasks: Task[] = [];
  #batches = 0;
  #busy = false;
  #held = false;
  #stopped = false;
  #taskFailures: MeiliError[] = [];
  /** Set by failAllTasks(): every task fails with it, once the counted failures are spent. */
  #everyTaskFails: MeiliError | null = null;
  #requestFailures: { status: number; error: MeiliError }[] = [];
  #delayMs = 0;

  constructor({ key = randomBytes(16).toString('hex') }: MeiliStandInOptions = {}) {
    this.key = key;
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  get url() {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start() {
    await this.#listen(0);
  }

  /** Closes the server and every connection, and cancels every pending timer. */
  async stop() {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.down();
  }

  // -- faults ------------------------------------------------------------------------------

  /** The next `count` tasks processed fail with `error` (default: an `internal` error) and change nothing. */
  failTasks(count: number, error: Partial<MeiliError> = {}) {
    const failure = {
      ...errorBody('internal', 'Task failure injected by the Meilisearch stand-in.', 'internal'),
      ...error,
    };
    for (let i = 0; i < count; i++) this.#taskFailures.push(failure);
  }

  /** Every task processed from now on fails with `error` (default: `internal`), until `clearFaults()`. */
  failAllTasks(error: Partial<MeiliError> = {}) {
    this.#everyTaskFails = {
      ...errorBody('internal', 'Task failure injected by the Meilisearch stand-in.', 'internal'),
      ...error,
    };
  }

  /** Ends every injected fault: failing tasks and answers, the delay, held tasks; listens again if down. */
  async clearFaults() {
    this.#taskFailures = [];
    this.#everyTaskFails = null;
    this.#requestFailures = [];
    this.#delayMs = 0;
    this.releaseTasks();
    if (!this.#server.listening && !this.#stopped) await this.up();
  }

  /** Tasks stay enqueued until `releaseTasks()` (one already processing finishes). */
  holdTasks() {
    this.#held = true;
  }

  releaseTasks() {
    this.#held = false;
    this.#schedule();
  }

  /** Stops listening and drops every connection: clients get ECONNREFUSED. Tasks keep being processed. */
  async down() {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    // Time for the clients' pooled connections to see theirs closed (on loopback, far less is
    // enough): their next request is then refused, not cut off.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** Listens again, on the same port. */
  async up() {
    await this.#listen(this.#port);
  }

  /** Every answer from now on is sent `ms` later (0 to stop). */
  delay(ms: number) {
    this.#delayMs = ms;
  }

  /** The next `count` requests are answered `status`, with a Meilisearch error body (before any other check). */
  failRequests(count: number, status = 503, error: Partial<MeiliError> = {}) {
    const body = {
      ...errorBody('internal', `Failure (${status}) injected by the Meilisearch stand-in.`, 'internal'),
      ...error,
    };
    for (let i = 0; i < count; i++) this.#requestFailures.push({ status, error: body });
  }

  // -- inspection --------------------------------------------------------------------------

  /** A copy of the index's documents by primary key (empty when there is no such index). */
  documents(uid: string): Map<string, Document> {
    return new Map(
      [...(this.#indexes.get(uid)?.documents ?? [])].map(([id, document]) => [id, structuredClone(document)]),
    );
  }

  tasks(): TaskView[] {
    return this.#tasks.map((task) => structuredClone(task.view));
  }

  settings(uid: string): Record<string, unknown> | undefined {
    const index = this.#indexes.get(uid);
    return index && structuredClone(index.settings);
  }

  indexes(): string[] {
    return [...this.#indexes.keys()].sort();
  }

  // -- HTTP --------------------------------------------------------------------------------

  #listen(port: number) {
    return new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #after(ms: number, callback: () => void) {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      callback();
    }, ms);
    this.#timers.add(timer);
  }

  async #handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://stand-in');
    const method = request.method ?? 'GET';
    const path = url.pathname;
    let body: unknown;
    let malformed: string | undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch (error) {
      malformed = (error as Error).message;
    }
    this.requests.push({ method, path, query: Object.fromEntries(url.searchParams), body });

    const label = `${method} ${path}${url.search}`;
    const invalid = malformed
      ? [`the body is not JSON: ${malformed}`]
      : validateRequest({ method, path, query: url.searchParams, body });
    this.violations.push(...invalid.map((violation) => `request ${label}: ${violation}`));
    const [status, answer] = this.#answer(request, method, url, body, invalid);
    if (invalid.length === 0) {
      const wrong = validateResponse({ method, path, status, body: answer });
      this.violations.push(...wrong.map((violation) => `response ${label}: ${violation}`));
    }

    if (this.#delayMs > 0) await new Promise<void>((resolve) => this.#after(this.#delayMs, resolve));
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  }

  #answer(request: IncomingMessage, method: string, url: URL, body: unknown, invalid: string[]): Answer {
    const injected = this.#requestFailures.shift();
    if (injected) return [injected.status, injected.error];
    if (url.pathname !== '/health') {
      const authorization = request.headers.authorization;
      if (!authorization) {
        return [401, errorBody('missing_authorization_header', 'The Authorization header is missing.', 'auth')];
      }
      if (authorization !== `Bearer ${this.key}`)
        return [403, errorBody('invalid_api_key', 'The provided API key is invalid.', 'auth')];
    }
    // Like the server's deserialiser, which refuses what the contract does not describe.
    if (invalid.length > 0) return [400, errorBody('bad_request', invalid.join('\n'))];
    for (const [routeMethod, pattern, handler] of this.#routes) {
      const found = routeMethod === method ? pattern.exec(url.pathname) : null;
      if (!found) continue;
      try {
        return handler(found.slice(1).map(decodeURIComponent), url.searchParams, body, request);
      } catch (error) {
        if (error instanceof MeiliFailure) return [error.status, error.body];
        this.violations.push(`stand-in bug on ${method} ${url.pathname}: ${(error as Error).stack}`);
        return [500, errorBody('internal', String(error), 'internal')];
      }
    }
    this.violations.push(`${method} ${url.pathname} is in the contract but not implemented by the stand-in`);
    return [
      501,
      errorBody('internal', `The Meilisearch stand-in does not implement ${method} ${url.pathname}.`, 'internal'),
    ];
  }

  #routes: [string, RegExp, Handler][] = (
    [
      ['GET', '/health', () => [200, { status: 'available' }]],
      ['GET', '/version', () => [200, { commitSha: 'stand-in', commitDate: 'stand-in', pkgVersion: '1.53.0' }]],
      [
        'GET',
        '/indexes',
        (_, query) => this.#listIndexes(number(query.get('offset')) ?? 0, number(query.get('limit')) ?? 20),
      ],
      ['POST', '/indexes', (_, __, body) => this.#createIndex(body as { uid: string; primaryKey?: string | null })],
      ['GET', '/indexes/([^/]+)', ([uid]) => [200, this.#view(this.#existing(uid!))]],
      ['DELETE', '/indexes/([^/]+)', ([uid]) => this.#deleteIndex(uid!)],
      ['GET', '/indexes/([^/]+)/stats', ([uid]) => [200, this.#stats(this.#existing(uid!))]],
      ['GET', '/indexes/([^/]+)/settings', ([uid]) => [200, this.#existing(uid!).settings]],
      [
        'PATCH',
        '/indexes/([^/]+)/settings',
        ([uid], _, body) => this.#updateSettings(uid!, body as Record<string, unknown>),
      ],
      [
        'POST',
        '/indexes/([^/]+)/documents',
        ([uid], query, body, request) => this.#write(uid!, query, body, request, 'replace'),
      ],
      [
        'PUT',
        '/indexes/([^/]+)/documents',
        ([uid], query, body, request) => this.#write(uid!, query, body, request, 'update'),
      ],
      ['DELETE', '/indexes/([^/]+)/documents', ([uid]) => this.#deleteDocuments(uid!, { providedIds: 0 }, () => true)],
      [
        'GET',
        '/indexes/([^/]+)/documents',
        ([uid], query) =>
          this.#browse(uid!, {
            offset: number(query.get('offset')),
            limit: number(query.get('limit')),
            fields: list(query.get('fields')),
            filter: query.get('filter') ?? undefined,
            ids: list(query.get('ids')),
            sort: list(query.get('sort')),
          }),
      ],
      ['POST', '/indexes/([^/]+)/documents/fetch', ([uid], _, body) => this.#browse(uid!, body as BrowseBody)],
      [
        'POST',
        '/indexes/([^/]+)/documents/delete-batch',
        ([uid], _, body) => {
          const ids = new Set((body as unknown[]).map(String));
          return this.#deleteDocuments(uid!, { providedIds: ids.size }, (id) => ids.has(id));
        },
      ],
      [
        'POST',
        '/indexes/([^/]+)/documents/delete',
        ([uid], _, body) => {
          const { filter: parameter } = body as { filter: unknown };
          const filter = filterOf(parameter, 'invalid_document_filter');
          if (!filter)
            throw new MeiliFailure(
              'invalid_document_filter',
              'Invalid syntax for the filter parameter: the filter is empty.',
            );
          return this.#deleteDocuments(
            uid!,
            { providedIds: 0, originalFilter: JSON.stringify(parameter) },
            (_, document) => matches(filter, document),
            (index) => checkFilterable(filter, filterRules(index.settings), 'invalid_document_filter'),
          );
        },
      ],
      [
        'GET',
        '/indexes/([^/]+)/documents/([^/]+)',
        ([uid, id], query) => {
          const index = this.#existing(uid!);
          const document = index.documents.get(id!);
          if (!document) throw new MeiliFailure('document_not_found', `Document \`${id}\` not found.`, 404);
          return [200, project(document, list(query.get('fields')), index.settings.displayedAttributes)];
        },
      ],
      [
        'DELETE',
        '/indexes/([^/]+)/documents/([^/]+)',
        ([uid, id]) => this.#deleteDocuments(uid!, { providedIds: 1 }, (other) => other === id),
      ],
      ['POST', '/indexes/([^/]+)/search', ([uid], _, body) => [200, search(this.#existing(uid!), body as SearchBody)]],
      ['POST', '/swap-indexes', (_, __, body) => this.#swap(body as { indexes: string[]; rename?: boolean }[])],
      ['GET', '/tasks', (_, query) => this.#listTasks(query)],
      [
        'GET',
        '/tasks/([^/]+)',
        ([uid]) => {
          const task = this.#tasks[Number(uid)];
          if (!task) throw new MeiliFailure('task_not_found', `Task \`${uid}\` not found.`, 404);
          return [200, task.view];
        },
      ],
    ] as [string, string, Handler][]
  ).map(([method, path, handler]) => [method, new RegExp(`^${path}$`), handler]);

  // -- indexes -----------------------------------------------------------------------------

  #existing(uid: string): Index {
    const index = this.#indexes.get(uid);
    if (!index) throw notFound(uid);
    return index;
  }

  #orCreate(uid: string, primaryKey: string | null = null): Index {
    let index = this.#indexes.get(uid);
    if (!index) {
      const now = new Date().toISOString();
      index = { uid, primaryKey, createdAt: now, updatedAt: now, documents: new Map(), settings: defaultSettings() };
      this.#indexes.set(uid, index);
    }
    return index;
  }

  #view({ uid, primaryKey, createdAt, updatedAt }: Index) {
    return { uid, createdAt, updatedAt, primaryKey };
  }

  #checkUid(uid: string) {
    // Meilisearch's rule: 1 to 400 bytes of a-z A-Z 0-9 - _.
    if (!/^[A-Za-z0-9_-]{1,400}$/.test(uid))
      throw new MeiliFailure('invalid_index_uid', `\`${uid}\` is not a valid index uid.`);
  }

  #listIndexes(offset: number, limit: number): Answer {
    const all = [...this.#indexes.values()].sort((a, b) => (a.uid < b.uid ? -1 : 1));
    return [
      200,
      {
        results: all.slice(offset, offset + limit).map((index) => this.#view(index)),
        offset,
        limit,
        total: all.length,
      },
    ];
  }

  #createIndex({ uid, primaryKey = null }: { uid: string; primaryKey?: string | null }): Answer {
    this.#checkUid(uid);
    return this.#enqueue('indexCreation', uid, { primaryKey }, () => {
      if (this.#indexes.has(uid)) throw new MeiliFailure('index_already_exists', `Index \`${uid}\` already exists.`);
      this.#orCreate(uid, primaryKey);
    });
  }

  #deleteIndex(uid: string): Answer {
    return this.#enqueue('indexDeletion', uid, { deletedDocuments: null }, (task) => {
      task.details = { deletedDocuments: this.#existing(uid).documents.size };
      this.#indexes.delete(uid);
    });
  }

  #stats(index: Index) {
    const documents = [...index.documents.values()];
    const size = documents.reduce((sum, document) => sum + JSON.stringify(document).length, 0);
    const fieldDistribution: Record<string, number> = {};
    for (const document of documents)
      for (const key of Object.keys(document)) fieldDistribution[key] = (fieldDistribution[key] ?? 0) + 1;
    return {
      numberOfDocuments: documents.length,
      rawDocumentDbSize: size,
      avgDocumentSize: documents.length ? Math.round(size / documents.length) : 0,
      indexSize: size,
      usedIndexSize: size,
      isIndexing: this.#tasks.some(
        (task) => task.view.indexUid === index.uid && ['enqueued', 'processing'].includes(task.view.status),
      ),
      fieldDistribution,
    };
  }

  #updateSettings(uid: string, patch: Record<string, unknown>): Answer {
    this.#checkUid(uid);
    return this.#enqueue('settingsUpdate', uid, patch, () => {
      const index = this.#orCreate(uid);
      applySettings(index.settings, patch);
      index.updatedAt = new Date().toISOString();
    });
  }

  #swap(swaps: { indexes: string[]; rename?: boolean }[]): Answer {
    const named = swaps.flatMap((swap) => swap.indexes);
    for (const swap of swaps) {
      if (swap.indexes.length !== 2)
        throw new MeiliFailure('invalid_swap_indexes', 'Two indexes must be given for each swap.');
    }
    const twice = named.find((uid, i) => named.indexOf(uid) !== i);
    if (twice)
      throw new MeiliFailure('invalid_swap_duplicate_index_found', `\`${twice}\` is named twice in the swaps.`);
    const details = { swaps: swaps.map(({ indexes, rename = false }) => ({ indexes, rename })) };
    return this.#enqueue('indexSwap', null, details, () => {
      const missing = swaps
        .flatMap(({ indexes, rename }) => (rename ? indexes.slice(0, 1) : indexes))
        .filter((uid) => !this.#indexes.has(uid));
      if (missing.length === 1) throw notFound(missing[0]!);
      if (missing.length > 1) throw new MeiliFailure('index_not_found', `Indexes ${quote(missing)} not found.`, 404);
      const taken = swaps.find(({ indexes, rename }) => rename && this.#indexes.has(indexes[1]!));
      if (taken) throw new MeiliFailure('index_already_exists', `Index \`${taken.indexes[1]}\` already exists.`);
      // A rename is a swap with an index that does not exist.
      for (const { indexes } of swaps) {
        const [a, b] = indexes as [string, string];
        const [first, second] = [this.#indexes.get(a)!, this.#indexes.get(b)];
        this.#indexes.delete(a);
        if (second) this.#indexes.set(a, Object.assign(second, { uid: a }));
        this.#indexes.set(b, Object.assign(first, { uid: b }));
      }
    });
  }

  // -- documents ---------------------------------------------------------------------------

  #write(
    uid: string,
    query: URLSearchParams,
    body: unknown,
    request: IncomingMessage,
    mode: 'replace' | 'update',
  ): Answer {
    const contentType = request.headers['content-type'] ?? '';
    if (!contentType.startsWith('application/json')) {
      throw new MeiliFailure('invalid_content_type', `The stand-in takes only JSON, not \`${contentType}\`.`, 415);
    }
    if (body === undefined) throw new MeiliFailure('missing_payload', 'A json payload is missing.');
    const documents = Array.isArray(body) ? body : [body];
    if (!documents.every(isObject)) throw new MeiliFailure('malformed_payload', 'Expected documents (JSON objects).');
    this.#checkUid(uid);
    const requested = query.get('primaryKey');
    return this.#enqueue(
      'documentAdditionOrUpdate',
      uid,
      { receivedDocuments: documents.length, indexedDocuments: null },
      (task) => {
        const existing = this.#indexes.get(uid);
        if (existing?.primaryKey && requested && requested !== existing.primaryKey) {
          throw new MeiliFailure(
            'index_primary_key_already_exists',
            `Index already has a primary key: \`${existing.primaryKey}\`.`,
          );
        }
        const primaryKey = existing?.primaryKey ?? requested ?? (documents[0] ? inferPrimaryKey(documents[0]) : null);
        // Every document is checked before any is written: a failed task changes nothing.
        const keyed = documents.map((document) => [documentId(document, primaryKey!), document] as const);
        const index = this.#orCreate(uid);
        index.primaryKey = primaryKey;
        for (const [id, document] of keyed)
          index.documents.set(id, mode === 'update' ? { ...index.documents.get(id), ...document } : document);
        index.updatedAt = new Date().toISOString();
        task.details = { receivedDocuments: documents.length, indexedDocuments: documents.length };
      },
    );
  }

  #deleteDocuments(
    uid: string,
    details: Record<string, unknown>,
    doomed: (id: string, document: Document) => boolean,
    check?: (index: Index) => void,
  ): Answer {
    return this.#enqueue('documentDeletion', uid, { ...details, deletedDocuments: null }, (task) => {
      const index = this.#existing(uid);
      check?.(index);
      let deleted = 0;
      for (const [id, document] of index.documents)
        if (doomed(id, document) && index.documents.delete(id)) deleted += 1;
      index.updatedAt = new Date().toISOString();
      task.details = { ...details, deletedDocuments: deleted };
    });
  }

  #browse(uid: string, { offset = 0, limit = 20, fields, filter: parameter, ids, sort }: BrowseBody): Answer {
    const index = this.#existing(uid);
    const filter = filterOf(parameter, 'invalid_document_filter');
    if (filter) checkFilterable(filter, filterRules(index.settings), 'invalid_document_filter');
    const order = sorter(sort, index.settings.sortableAttributes, 'invalid_document_sort');
    const selected = [...index.documents]
      .filter(([id, document]) => (!ids || ids.includes(id)) && (!filter || matches(filter, document)))
      .sort(([a, x], [b, y]) => order?.(x, y) || idOrder(a, b));
    const results = selected
      .slice(offset, offset + limit)
      .map(([, document]) => project(document, fields, index.settings.displayedAttributes));
    return [200, { results, offset, limit, total: selected.length }];
  }

  // -- tasks -------------------------------------------------------------------------------

  #enqueue(type: string, indexUid: string | null, details: Record<string, unknown> | null, run: Task['run']): Answer {
    const view: TaskView = {
      uid: this.#tasks.length,
      batchUid: null,
      indexUid,
      status: 'enqueued',
      type,
      canceledBy: null,
      details,
      error: null,
      duration: null,
      enqueuedAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    this.#tasks.push({ view, run });
    this.#schedule();
    return [202, { taskUid: view.uid, indexUid, status: view.status, type, enqueuedAt: view.enqueuedAt }];
  }

  /** One task at a time, oldest first, each going enqueued → processing → succeeded or failed. */
  #schedule() {
    if (this.#busy || this.#held || this.#stopped) return;
    const task = this.#tasks.find(({ view }) => view.status === 'enqueued');
    if (!task) return;
    this.#busy = true;
    this.#after(1, () => {
      const { view } = task;
      if (this.#held) {
        this.#busy = false;
        return;
      }
      view.status = 'processing';
      view.startedAt = new Date().toISOString();
      view.batchUid = this.#batches++;
      this.#after(1, () => {
        view.error = this.#taskFailures.shift() ?? this.#everyTaskFails;
        if (!view.error) {
          try {
            task.run(view);
          } catch (failure) {
            if (!(failure instanceof MeiliFailure))
              this.violations.push(`stand-in bug in task ${view.uid}: ${String(failure)}`);
            view.error =
              failure instanceof MeiliFailure ? failure.body : errorBody('internal', String(failure), 'internal');
          }
        }
        view.status = view.error ? 'failed' : 'succeeded';
        for (const counter of ['indexedDocuments', 'deletedDocuments']) {
          if (view.error && view.details?.[counter] === null) view.details[counter] = 0;
        }
        const finished = new Date();
        view.finishedAt = finished.toISOString();
        view.duration = `PT${(finished.getTime() - Date.parse(view.startedAt!)) / 1000}S`;
        this.#busy = false;
        this.#schedule();
      });
    });
  }

  #listTasks(query: URLSearchParams): Answer {
    const filters = {
      uid: list(query.get('uids')),
      batchUid: list(query.get('batchUids')),
      status: list(query.get('statuses')),
      type: list(query.get('types')),
      indexUid: list(query.get('indexUids')),
    };
    const limit = number(query.get('limit')) ?? 20;
    const from = number(query.get('from'));
    const reverse = query.get('reverse') === 'true';
    const selected = this.#tasks
      .map((task) => task.view)
      .filter((view) =>
        Object.entries(filters).every(
          ([field, wanted]) =>
            !wanted || wanted.includes('*') || wanted.includes(String(view[field as keyof TaskView])),
        ),
      );
    if (!reverse) selected.reverse();
    const page =
      from === undefined ? selected : selected.filter((view) => (reverse ? view.uid >= from : view.uid <= from));
    return [
      200,
      {
        results: page.slice(0, limit),
        total: selected.length,
        limit,
        from: page[0]?.uid ?? null,
        next: page[limit]?.uid ?? null,
      },
    ];
  }
}
