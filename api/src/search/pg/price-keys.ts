import { bucketOf, PRICE_BOUNDS } from '../prices.ts';

/**
 * Fine price bands, the keys a price range is found by at its ends: each bucket cut in ten, and
 * four more above the last. The same bounds as product_price_band() in migrations/0008.
 */
export const BAND_BOUNDS = [
  ...PRICE_BOUNDS.flatMap((bound, i) => {
    const from = i === 0 ? 0 : PRICE_BOUNDS[i - 1]!;
    return Array.from({ length: 10 }, (_, step) => from + ((bound - from) * (step + 1)) / 10);
  }),
  150_000,
  200_000,
  500_000,
  1_000_000,
];

/**
 * A product's price keys beside its bucket (product_price_keys(), migrations/0008): its band, and
 * for each bound between buckets, which side of it the price is (`u:<k>`: below bucket k, `o:<k>`:
 * in bucket k or above).
 */
export function rowPriceKeys(amount: number): string[] {
  const bucket = bucketOf(amount);
  return [
    `f:${bucketOf(amount, BAND_BOUNDS)}`,
    ...PRICE_BOUNDS.map((_, i) => `${bucket < i + 1 ? 'u' : 'o'}:${i + 1}`),
  ];
}

/**
 * The filter keys that find the products priced from `min` to `max` (inclusive), or null for every
 * price: the buckets the range covers whole in one key when the range is open on one side (`u:3`
 * under 50.00, `o:3` from 50.00: the index walks one posting list beside the words' rather than
 * three), one key each otherwise (`p:`), and the bands of the buckets it covers in part (`f:`), so
 * that the rows read outside the range are those of its two end bands at most (`max_price=5000`:
 * the band from 50.00 to 54.99, not the bucket up to 99.99). A bucket is ten bands.
 */
export function priceKeys(min: number, max: number): string[] | null {
  const from = (bucket: number) => (bucket === 0 ? 0 : PRICE_BOUNDS[bucket - 1]!);
  // The last bucket has no end: only a range without a maximum covers it whole.
  const to = (bucket: number) => PRICE_BOUNDS[bucket] ?? Number.MAX_SAFE_INTEGER + 1;
  const covered: number[] = [];
  const bands: string[] = [];
  for (let bucket = bucketOf(min); bucket <= bucketOf(max); bucket += 1) {
    if (min <= from(bucket) && max >= to(bucket) - 1) {
      covered.push(bucket);
      continue;
    }
    const last = bucketOf(Math.min(max, to(bucket) - 1), BAND_BOUNDS);
    for (let band = bucketOf(Math.max(min, from(bucket)), BAND_BOUNDS); band <= last; band += 1)
      bands.push(`f:${band}`);
  }
  // Only the first and the last bucket can be covered in part: the others are contiguous.
  const [first, last] = [covered[0], covered.at(-1)];
  if (first === undefined || last === undefined) return bands;
  if (first === 0 && last === PRICE_BOUNDS.length) return null;
  if (first === 0) return [`u:${last + 1}`, ...bands];
  if (last === PRICE_BOUNDS.length) return [`o:${first}`, ...bands];
  return [...covered.map((bucket) => `p:${bucket}`), ...bands];
}
