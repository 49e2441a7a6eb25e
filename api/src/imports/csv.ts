import { once } from 'node:events';
import { parse, type CsvError, type Parser } from 'csv-parse';

/**
 * CSV records from a byte stream, after RFC 4180 (https://www.rfc-editor.org/rfc/rfc4180):
 * comma separators, CRLF or LF line ends, fields optionally quoted with `"`, a quote inside a
 * quoted field doubled, line breaks allowed inside quoted fields, a leading byte order mark
 * ignored, blank lines skipped. The fields are read by csv-parse's streaming parser
 * (https://csv.js.org/parse/).
 *
 * An import reports every bad record and carries on, which csv-parse does not do by itself: it
 * stops at the first malformed record (or, told to skip them, goes on reading inside a quote it
 * took for open). So csv-parse reads quotes leniently (`relax_quotes`, which keeps a stray quote
 * on its line), and each record's text is then checked here:
 * - a quote inside an unquoted field, or text after the closing quote of a field, rejects the
 *   record, reported with the line it starts on;
 * - a quote never closed, or a record longer than `maxBytes`, is reported and reading starts
 *   again, with a new parser, at the record's second line, which is probably the next record.
 * Only the current record's bytes are held, so memory stays bounded whatever the input.
 */
export type CsvRecord = { line: number; fields: Cell[] } | { line: number; error: string };
/** A field's text; undefined for an empty field left unquoted (`a,,b`), which says "not given". */
export type Cell = string | undefined;

interface ParsedRecord {
  record: string[];
  info: { bytes: number };
}

/** A record as RFC 4180 has it (fields, then the line end), after any blank lines; read as latin1. */
const VALID = /^(?:\r?\n)*(?:"(?:[^"]|"")*"|[^",\n]*)(?:,(?:"(?:[^"]|"")*"|[^",\n]*))*(?:\r?\n)?$/;
const FIELD = /"(?:[^"]|"")*"|[^",\n]*/y;
const BLANK_LINES = /^(?:\r?\n)*/;
const BOM = '\xEF\xBB\xBF';
const NEWLINE = 0x0a;

/** Why the text of a record is not valid CSV (the text failed VALID). */
function fault(text: string): string {
  for (let at = BLANK_LINES.exec(text)![0].length; ; at += 1) {
    FIELD.lastIndex = at;
    const field = FIELD.exec(text)![0];
    at += field.length;
    if (text[at] === ',') continue;
    if (field.startsWith('"')) return 'text after the closing quote of a field';
    return 'a quote inside an unquoted field';
  }
}

/** The fields of a valid record, its empty unquoted ones undefined (told apart from `""` in its text). */
function givenFields(fields: string[], text: string): Cell[] {
  let at = BLANK_LINES.exec(text)![0].length;
  return fields.map((field) => {
    FIELD.lastIndex = at;
    const raw = FIELD.exec(text)![0];
    at += raw.length + 1;
    return field === '' && !raw.startsWith('"') ? undefined : field;
  });
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}

export class CsvReader {
  readonly #maxBytes: number;
  #parser!: Parser;
  /** Bytes given to the parser since the end of the last record it read. */
  #pending: Buffer = Buffer.alloc(0);
  /** The parser's offset of `#pending`'s first byte. */
  #pendingAt = 0;
  /** Line number of `#pending`'s first byte. */
  #line = 1;
  /** Dropping the rest of an overlong line until its end. */
  #skipping = false;
  #records: CsvRecord[] = [];

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
    this.#restart(true);
  }

  /** The records complete in `chunk` (with what was pending before it). */
  push(chunk: Buffer): CsvRecord[] {
    if (this.#skipping) {
      const end = chunk.indexOf(NEWLINE);
      if (end === -1) return [];
      this.#skipping = false;
      this.#line += 1;
      chunk = chunk.subarray(end + 1);
    }
    this.#feed(chunk);
    if (this.#pending.length > this.#maxBytes) this.#dropBlankLines();
    if (this.#pending.length > this.#maxBytes) this.#recover(`record longer than ${this.#maxBytes} bytes`);
    return this.#take();
  }

  /** The last records, once the input has ended. */
  async end(): Promise<CsvRecord[]> {
    if (this.#skipping) return this.#take();
    // What the parser leaves unread at the end is inside a quote never closed.
    for (await this.#finish(); this.#pending.length > 0; await this.#finish()) {
      this.#recover('a quoted field is never closed');
    }
    return this.#take();
  }

  #take(): CsvRecord[] {
    const records = this.#records;
    this.#records = [];
    return records;
  }

  #restart(first = false) {
    this.#parser = parse({
      bom: first,
      record_delimiter: ['\r\n', '\n'],
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
      // Each record comes with the offset of its end, which places its text in `#pending`.
      info: true,
    });
    this.#pendingAt = 0;
  }

  #feed(chunk: Buffer) {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#parser.write(chunk);
    this.#read();
  }

  /** The records the parser has read: it reads each chunk as it is written, and holds them until asked. */
  #read() {
    for (let read: ParsedRecord | null; (read = this.#parser.read() as ParsedRecord | null) !== null; ) {
      this.#record(read.record, read.info.bytes);
    }
  }

  /** Ends the parser's input and waits for it to read its last record. */
  async #finish() {
    const parser = this.#parser;
    const finished = once(parser, 'finish');
    parser.end();
    try {
      await finished;
    } catch (error) {
      // The record left pending is reported by the caller.
      if ((error as CsvError).code !== 'CSV_QUOTE_NOT_CLOSED') throw error;
    }
    this.#read();
    this.#dropBlankLines();
  }

  /** A record the parser read, ending at its offset `end`: checked, numbered, kept. */
  #record(fields: string[], end: number) {
    let text = this.#pending.toString('latin1', 0, end - this.#pendingAt);
    this.#pending = this.#pending.subarray(end - this.#pendingAt);
    this.#pendingAt = end;
    const line = this.#line + countNewlines(BLANK_LINES.exec(text)![0]);
    this.#line += countNewlines(text);
    if (text.startsWith(BOM)) text = text.slice(BOM.length);
    if (!VALID.test(text)) this.#records.push({ line, error: fault(text) });
    else this.#records.push({ line, fields: fields.includes('') ? givenFields(fields, text) : fields });
  }

  /** Blank lines before the pending record are no part of it: the parser skipped them. */
  #dropBlankLines() {
    const pending = this.#pending;
    let at = 0;
    for (;;) {
      const next = pending[at] === NEWLINE ? at + 1 : pending[at] === 0x0d && pending[at + 1] === NEWLINE ? at + 2 : at;
      if (next === at) break;
      at = next;
      this.#line += 1;
    }
    this.#pending = pending.subarray(at);
    this.#pendingAt += at;
  }

  /**
   * Reports the pending record as `error` and reads again, with a new parser, from its second
   * line (or from the end of its first line, when that has not come yet).
   */
  #recover(error: string) {
    this.#dropBlankLines();
    const pending = this.#pending;
    this.#records.push({ line: this.#line, error });
    const lineEnd = pending.indexOf(NEWLINE);
    this.#pending = Buffer.alloc(0);
    this.#restart();
    if (lineEnd === -1) {
      this.#skipping = true;
      return;
    }
    this.#line += 1;
    this.#feed(pending.subarray(lineEnd + 1));
  }
}
