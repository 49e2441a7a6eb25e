/**
 * A streaming CSV parser after RFC 4180 (https://www.rfc-editor.org/rfc/rfc4180): comma
 * separators, CRLF or LF line ends, fields optionally quoted with `"`, a quote inside a quoted
 * field doubled, line breaks allowed inside quoted fields. A malformed record (a quote in an
 * unquoted field, text after a closing quote, a quote never closed) is reported with the line it
 * starts on and parsing resumes at the next line, so one bad record never hides the rest. Blank
 * lines are skipped. A record longer than `maxChars` is reported and skipped, so memory stays
 * bounded whatever the input.
 */
export type CsvRecord = { line: number; fields: string[]; quoted: boolean[] } | { line: number; error: string };

type Attempt =
  | { kind: 'record'; fields: string[]; quoted: boolean[]; next: number }
  | { kind: 'error'; error: string; at: number }
  | { kind: 'incomplete' };

const DELIMITER = /[,\n"]/g;

export class CsvParser {
  readonly #maxChars: number;
  /** Unparsed text; it starts at a record's first character. */
  #buffer = '';
  /** Line number of the buffer's first character. */
  #line = 1;
  /** Dropping the rest of an overlong line until its end. */
  #skipping = false;
  #started = false;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  push(text: string): CsvRecord[] {
    if (!this.#started) {
      this.#started = true;
      // A byte order mark some spreadsheets write is not part of the first column's name.
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    if (this.#skipping) {
      const end = text.indexOf('\n');
      if (end === -1) return [];
      this.#skipping = false;
      this.#line += 1;
      text = text.slice(end + 1);
    }
    this.#buffer += text;
    return this.#drain(false);
  }

  end(): CsvRecord[] {
    if (this.#skipping) return [];
    return this.#drain(true);
  }

  #drain(final: boolean): CsvRecord[] {
    const records: CsvRecord[] = [];
    const buffer = this.#buffer;
    let position = 0;
    while (position < buffer.length) {
      // Blank lines separate nothing: skipped, but counted.
      if (buffer[position] === '\n' || (buffer[position] === '\r' && buffer[position + 1] === '\n')) {
        position += buffer[position] === '\n' ? 1 : 2;
        this.#line += 1;
        continue;
      }
      if (buffer[position] === '\r' && position + 1 === buffer.length && !final) break;
      const attempt = parseRecord(buffer, position, final);
      if (attempt.kind === 'incomplete') {
        if (buffer.length - position <= this.#maxChars) break;
        // Too long to be a record: most likely a quote opened and never closed. Report it and
        // read again from its second line, which is probably the next record.
        records.push({ line: this.#line, error: `record longer than ${this.#maxChars} characters` });
        const next = buffer.indexOf('\n', position);
        if (next === -1) {
          this.#skipping = true;
          position = buffer.length;
          break;
        }
        this.#line += 1;
        position = next + 1;
        continue;
      }
      if (attempt.kind === 'record') {
        records.push({ line: this.#line, fields: attempt.fields, quoted: attempt.quoted });
        this.#line += countNewlines(buffer, position, attempt.next);
        position = attempt.next;
        continue;
      }
      records.push({ line: this.#line, error: attempt.error });
      // Resume after the line the error was found on; a quote never closed resumes at the line
      // after the one it was opened on.
      const lineEnd = buffer.indexOf('\n', attempt.at);
      const next = lineEnd === -1 ? buffer.length : lineEnd + 1;
      this.#line += countNewlines(buffer, position, next);
      position = next;
      // The line goes on in chunks still to come: drop it up to its end as they arrive.
      if (lineEnd === -1 && !final) this.#skipping = true;
    }
    this.#buffer = buffer.slice(position);
    return records;
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}

/** One record from `start`, or why it cannot be one, or the news that it goes on past the buffer. */
function parseRecord(text: string, start: number, final: boolean): Attempt {
  const fields: string[] = [];
  const quoted: boolean[] = [];
  let position = start;
  for (;;) {
    if (text[position] === '"') {
      const opened = position;
      let value = '';
      let from = position + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote === -1) {
          if (!final) return { kind: 'incomplete' };
          return { kind: 'error', error: 'a quoted field is never closed', at: opened };
        }
        value += text.slice(from, quote);
        if (quote + 1 === text.length && !final) return { kind: 'incomplete' };
        if (text[quote + 1] === '"') {
          value += '"';
          from = quote + 2;
          continue;
        }
        position = quote + 1;
        break;
      }
      fields.push(value);
      quoted.push(true);
      const after = text[position];
      if (after === ',') {
        position += 1;
        continue;
      }
      if (after === undefined) {
        return final ? { kind: 'record', fields, quoted, next: position } : { kind: 'incomplete' };
      }
      if (after === '\n') return { kind: 'record', fields, quoted, next: position + 1 };
      if (after === '\r') {
        if (position + 1 === text.length && !final) return { kind: 'incomplete' };
        if (text[position + 1] === '\n') return { kind: 'record', fields, quoted, next: position + 2 };
      }
      return { kind: 'error', error: 'text after the closing quote of a field', at: position };
    }
    DELIMITER.lastIndex = position;
    const match = DELIMITER.exec(text);
    if (match === null) {
      if (!final) return { kind: 'incomplete' };
      fields.push(text.slice(position, text.endsWith('\r') ? -1 : undefined));
      quoted.push(false);
      return { kind: 'record', fields, quoted, next: text.length };
    }
    const at = match.index;
    if (match[0] === '"') return { kind: 'error', error: 'a quote inside an unquoted field', at };
    const end = match[0] === '\n' && text[at - 1] === '\r' && at > position ? at - 1 : at;
    fields.push(text.slice(position, end));
    quoted.push(false);
    if (match[0] === '\n') return { kind: 'record', fields, quoted, next: at + 1 };
    position = at + 1;
  }
}
