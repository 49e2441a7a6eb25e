import { isUtf8 } from 'node:buffer';

/** One line of an NDJSON body: its text, or why it cannot be read. */
export type Line = { line: number; text: string } | { line: number; error: string };

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines (LF or CRLF), numbered from 1, holding at most one partial
 * line between chunks. A line longer than `maxBytes` is reported and skipped without being kept,
 * so one endless line cannot grow memory. Lines are split on bytes, not characters: a newline
 * byte never occurs inside a UTF-8 sequence, so no character is cut.
 */
export class LineSplitter {
  readonly #maxBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipping = false;
  #line = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The complete lines in `chunk` (with what was pending before it). */
  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      this.#line += 1;
      if (this.#skipping) {
        this.#skipping = false;
      } else if (this.#pendingBytes + end - start > this.#maxBytes) {
        lines.push(this.#tooLong());
      } else {
        const bytes =
          this.#pending.length === 0
            ? chunk.subarray(start, end)
            : Buffer.concat([...this.#pending, chunk.subarray(start, end)]);
        lines.push(this.#decode(bytes));
      }
      this.#pending = [];
      this.#pendingBytes = 0;
      start = end + 1;
    }
    this.#hold(chunk.subarray(start), lines);
    return lines;
  }

  /** The last line, when the body does not end with a newline. */
  end(): Line[] {
    if (this.#pendingBytes === 0 || this.#skipping) return [];
    this.#line += 1;
    const line = this.#decode(Buffer.concat(this.#pending));
    this.#pending = [];
    this.#pendingBytes = 0;
    return [line];
  }

  #hold(rest: Buffer, lines: Line[]): void {
    if (rest.length === 0 || this.#skipping) return;
    if (this.#pendingBytes + rest.length > this.#maxBytes) {
      // Reported now with the number it will have; the rest of it is dropped as it arrives.
      lines.push({ line: this.#line + 1, error: this.#tooLong().error });
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#skipping = true;
      return;
    }
    // A copy: the chunk's memory may be a slice of a larger pooled buffer we must not pin.
    this.#pending.push(Buffer.from(rest));
    this.#pendingBytes += rest.length;
  }

  #tooLong(): { line: number; error: string } {
    return { line: this.#line, error: `line longer than ${this.#maxBytes} bytes` };
  }

  #decode(bytes: Buffer): Line {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    const text = bytes.subarray(0, end);
    if (!isUtf8(text)) return { line: this.#line, error: 'not valid UTF-8' };
    return { line: this.#line, text: text.toString('utf8') };
  }
}
