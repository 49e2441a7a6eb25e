import { invalidParam } from './problem.ts';

/** A product's entity tag is its version, strong: `"<version>"` (RFC 9110 section 8.8.3). */
export const versionTag = (version: number) => `"${version}"`;

/** If-Match names the version a change was prepared against (RFC 9110 section 13.1.1). */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*"(\d{1,9})"\s*$/.exec(header);
  if (!match) {
    throw invalidParam({ in: 'header', name: 'If-Match', detail: 'must be the product version as "<version>"' });
  }
  return Number(match[1]);
}
