/**
 * A tiny time-bounded memo for answers every shopper shares (the category tree, a category's
 * brands): one API call per key and period, concurrent callers sharing it. Bounded in size.
 */
const entries = new Map<string, { value: Promise<unknown>; expires: number }>();
const MAX_ENTRIES = 1_000;

export function memo<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
  const now = Date.now();
  const entry = entries.get(key);
  if (entry && entry.expires > now) return entry.value as Promise<T>;
  const value = load();
  entries.set(key, { value, expires: now + ttlMs });
  // A failure is not remembered: the next shopper asks again.
  value.catch(() => entries.get(key)?.value === value && entries.delete(key));
  if (entries.size > MAX_ENTRIES) {
    for (const [old, { expires }] of entries) if (expires <= now || entries.size > MAX_ENTRIES) entries.delete(old);
  }
  return value;
}
