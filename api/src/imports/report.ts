import { Type, type Static } from 'typebox';
import { Problem } from '../http/problem.ts';

/** The report lists at most this many rejected rows: enough to fix a file, bounded whatever its size. */
export const MAX_LISTED_ERRORS = 1_000;

export const ImportRowError = Type.Object(
  {
    line: Type.Integer({
      minimum: 1,
      description: 'Line of the row in the body (CSV: the line its record starts on).',
    }),
    sku: Type.Optional(Type.String({ description: 'The row’s sku, when it has a readable one.' })),
    reason: Type.String(),
  },
  { title: 'ImportRowError' },
);

export const ImportReport = Type.Object(
  {
    created: Type.Integer({ minimum: 0 }),
    updated: Type.Integer({ minimum: 0 }),
    unchanged: Type.Integer({ minimum: 0, description: 'Rows identical to their product: not written.' }),
    rejected: Type.Integer({ minimum: 0 }),
    errors: Type.Array(ImportRowError, {
      maxItems: MAX_LISTED_ERRORS,
      description: 'The rejected rows with the lowest line numbers, in line order.',
    }),
    errors_truncated: Type.Boolean({ description: 'True when more rows were rejected than `errors` lists.' }),
  },
  { title: 'ImportReport' },
);

/** A refused all-or-nothing import (422): the problem, and the report of what would have happened. */
export const ImportRefused = Type.Object(
  {
    ...Problem.properties,
    report: Type.Optional({
      ...ImportReport,
      description: 'What the import would have done (absent when the Idempotency-Key was reused).',
    }),
  },
  { title: 'ImportRefused' },
);

export type ImportReport = Static<typeof ImportReport>;
export type ImportRowError = Static<typeof ImportRowError>;

/**
 * Counts rows and keeps the rejections with the lowest line numbers. Rejections do not arrive in
 * line order (a batch's database checks finish after the next batch's rows were parsed), so the
 * list is trimmed to the lowest lines now and then rather than closed at the first thousand.
 */
export class ReportBuilder {
  created = 0;
  updated = 0;
  unchanged = 0;
  rejected = 0;
  #errors: ImportRowError[] = [];

  reject(error: ImportRowError): void {
    this.rejected += 1;
    this.#errors.push(error);
    if (this.#errors.length >= 2 * MAX_LISTED_ERRORS) this.#trim();
  }

  #trim(): void {
    this.#errors.sort((a, b) => a.line - b.line);
    this.#errors.length = Math.min(this.#errors.length, MAX_LISTED_ERRORS);
  }

  build(): ImportReport {
    this.#trim();
    return {
      created: this.created,
      updated: this.updated,
      unchanged: this.unchanged,
      rejected: this.rejected,
      errors: this.#errors.slice(),
      errors_truncated: this.rejected > this.#errors.length,
    };
  }
}
