import { Compile } from 'typebox/compile';
import { HttpProblem } from '../http/problem.ts';
import { ProductCreate } from '../catalogue/write-schemas.ts';
import { CsvReader, type Cell, type CsvRecord } from './csv.ts';
import { LineSplitter } from './lines.ts';

/** A row of the body: a product to write, or why it was rejected. */
export type Candidate = { line: number; product: ProductCreate } | { line: number; sku?: string; reason: string };

/** Turns body chunks into candidate rows, holding at most one partial row between chunks. */
export interface RowDecoder {
  push(chunk: Buffer): Candidate[];
  end(): Candidate[] | Promise<Candidate[]>;
}

export type ImportFormat = 'ndjson' | 'csv';

/** Longest row accepted: far above any valid product (20,000-character description, 20 images). */
export const MAX_ROW_BYTES = 1_048_576;

// Compiled once: the same schema as POST /v1/products, so a row is valid exactly when that body is.
const validator = Compile(ProductCreate);

const MAX_REASONS = 3;

/** The validation errors of a row, named by field, e.g. `price.amount: must be integer`. */
function schemaReason(value: unknown, rename: (path: string) => string = (path) => path): string {
  const reasons: string[] = [];
  for (const error of validator.Errors(value)) {
    const path = error.instancePath.split('/').filter(Boolean).join('.');
    const params = error.params as { requiredProperties?: string[]; additionalProperties?: string[] };
    const at = (name: string) => rename([path, name].filter(Boolean).join('.'));
    if (error.keyword === 'boolean') continue; // repeated by its additionalProperties error
    if (error.keyword === 'required')
      reasons.push(...(params.requiredProperties ?? []).map((n) => `${at(n)}: is required`));
    else if (error.keyword === 'additionalProperties')
      reasons.push(...(params.additionalProperties ?? []).map((n) => `${at(n)}: is not a known field`));
    else reasons.push(`${rename(path) || 'row'}: ${error.message}`);
  }
  return reasons.slice(0, MAX_REASONS).join('; ') || 'is not a valid product';
}

/** The sku to name in a rejection, when the row has a plausible one. */
function skuOf(value: unknown): string | undefined {
  const sku = (value as { sku?: unknown } | null)?.sku;
  return typeof sku === 'string' && sku.length > 0 && sku.length <= 64 ? sku : undefined;
}

/**
 * PostgreSQL stores neither NUL in text nor `\u0000` or an unpaired surrogate in jsonb: such a
 * value would fail the whole batch's COPY, so its row is rejected here. (With the u flag, a
 * surrogate pair is one code point, so only an unpaired surrogate matches \p{Cs}.)
 */
const UNPAIRED_SURROGATE = /\p{Cs}/u;
const storableText = (text: string) => !text.includes('\u0000') && !UNPAIRED_SURROGATE.test(text);

function storable(value: unknown): boolean {
  if (typeof value === 'string') return storableText(value);
  if (typeof value !== 'object' || value === null) return true;
  for (const [key, item] of Object.entries(value)) if (!storableText(key) || !storable(item)) return false;
  return true;
}

function candidate(line: number, value: unknown, rename?: (path: string) => string): Candidate {
  if (!validator.Check(value)) return { line, sku: skuOf(value), reason: schemaReason(value, rename) };
  if (!storable(value)) {
    return {
      line,
      sku: skuOf(value),
      reason: 'holds a NUL character or an unpaired surrogate, which cannot be stored',
    };
  }
  return { line, product: value };
}

/** NDJSON (https://github.com/ndjson/ndjson-spec): one JSON object per line; blank lines skipped. */
export class NdjsonDecoder implements RowDecoder {
  readonly #lines = new LineSplitter(MAX_ROW_BYTES);

  push(chunk: Buffer): Candidate[] {
    return this.#rows(this.#lines.push(chunk));
  }

  end(): Candidate[] {
    return this.#rows(this.#lines.end());
  }

  #rows(lines: ReturnType<LineSplitter['push']>): Candidate[] {
    const rows: Candidate[] = [];
    for (const line of lines) {
      if ('error' in line) {
        rows.push({ line: line.line, reason: line.error });
        continue;
      }
      if (line.text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line.text);
      } catch (error) {
        rows.push({ line: line.line, reason: `not valid JSON (${(error as Error).message})` });
        continue;
      }
      rows.push(candidate(line.line, value));
    }
    return rows;
  }
}

export const CSV_COLUMNS = [
  'sku',
  'slug',
  'name',
  'description',
  'brand',
  'category',
  'price_amount',
  'currency',
  'status',
  'stock',
  'images',
  'attributes',
] as const;
type Column = (typeof CSV_COLUMNS)[number];
const REQUIRED_COLUMNS: Column[] = ['sku', 'slug', 'name', 'category', 'price_amount', 'currency'];

const INTEGER = /^-?\d{1,15}$/;
/** CSV columns are flat: name the failing field as its column. */
const csvName = (path: string) =>
  path === 'price.amount' ? 'price_amount' : path === 'price.currency' ? 'currency' : path;

const headerProblem = (detail: string) =>
  new HttpProblem(400, 'invalid-csv-header', 'Invalid CSV header', detail, [{ in: 'body', name: 'header', detail }]);

/**
 * CSV with a header row naming its columns (any order, any subset holding the required ones).
 * An empty cell means "not given": the default for a new product, the current value for an
 * existing one. A quoted empty cell (`""`) is an empty description, or no brand. `images` and
 * `attributes` cells hold JSON; `price_amount` and `stock` decimal integers.
 */
export class CsvDecoder implements RowDecoder {
  readonly #reader = new CsvReader(MAX_ROW_BYTES);
  #columns?: Column[];

  push(chunk: Buffer): Candidate[] {
    return this.#rows(this.#reader.push(chunk));
  }

  async end(): Promise<Candidate[]> {
    const rows = this.#rows(await this.#reader.end());
    if (!this.#columns) throw headerProblem('The body has no header row.');
    return rows;
  }

  #rows(records: CsvRecord[]): Candidate[] {
    const rows: Candidate[] = [];
    for (const record of records) {
      if (!this.#columns) {
        this.#columns = header(record);
        continue;
      }
      if ('error' in record) rows.push({ line: record.line, reason: `bad CSV: ${record.error}` });
      else if (record.fields.length !== this.#columns.length) {
        rows.push({
          line: record.line,
          sku: skuOf({ sku: record.fields[this.#columns.indexOf('sku')] }),
          reason: `expected ${this.#columns.length} fields, found ${record.fields.length}`,
        });
      } else rows.push(this.#row(record));
    }
    return rows;
  }

  #row({ line, fields }: { line: number; fields: Cell[] }): Candidate {
    const value: Record<string, unknown> = {};
    const price: Record<string, unknown> = {};
    const problems: string[] = [];
    this.#columns!.forEach((column, index) => {
      const cell = fields[index];
      if (cell === undefined) return;
      switch (column) {
        case 'price_amount':
        case 'stock':
          if (!INTEGER.test(cell)) problems.push(`${column}: must be an integer`);
          else if (column === 'stock') value.stock = Number(cell);
          else price.amount = Number(cell);
          break;
        case 'currency':
          price.currency = cell;
          break;
        case 'images':
        case 'attributes':
          try {
            value[column] = JSON.parse(cell);
          } catch {
            problems.push(`${column}: is not valid JSON`);
          }
          break;
        case 'brand':
          value.brand = cell === '' ? null : cell;
          break;
        default:
          value[column] = cell;
      }
    });
    if (Object.keys(price).length > 0) value.price = price;
    if (problems.length > 0) return { line, sku: skuOf(value), reason: problems.join('; ') };
    return candidate(line, value, csvName);
  }
}

function header(record: CsvRecord): Column[] {
  if ('error' in record) throw headerProblem(`The header row is not valid CSV: ${record.error}.`);
  const columns = record.fields.map((field) => (field ?? '').trim());
  const unknown = columns.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
  if (unknown.length > 0) {
    throw headerProblem(`Unknown column(s): ${unknown.join(', ')}. The columns are: ${CSV_COLUMNS.join(', ')}.`);
  }
  const repeated = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (repeated.length > 0) throw headerProblem(`Repeated column(s): ${[...new Set(repeated)].join(', ')}.`);
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) throw headerProblem(`Missing required column(s): ${missing.join(', ')}.`);
  return columns as Column[];
}

export function decoderFor(format: ImportFormat): RowDecoder {
  return format === 'csv' ? new CsvDecoder() : new NdjsonDecoder();
}
