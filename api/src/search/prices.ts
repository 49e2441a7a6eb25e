/** Price buckets, in minor units: the same bounds as product_price_bucket() in migrations/0005. */
export const PRICE_BOUNDS = [1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000];

/** The bucket of an amount among `bounds` (PRICE_BOUNDS unless given): as width_bucket() in SQL. */
export function bucketOf(amount: number, bounds: readonly number[] = PRICE_BOUNDS): number {
  let bucket = 0;
  while (bucket < bounds.length && amount >= bounds[bucket]!) bucket += 1;
  return bucket;
}
