import { Type } from 'typebox';

/** For routes that take no query parameters: an unknown one is refused, like everywhere else. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

/** The `Idempotency-Key` request header (checked by idempotency.ts: 1 to 255 printable ASCII characters). */
export const IdempotencyKeyHeader = Type.String({
  description: 'Makes a retry answer the same and change nothing more.',
});
