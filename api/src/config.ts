import { resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Every setting the API reads from the environment, checked at start-up: a bad value stops the
 * process with a message naming the variable, rather than surfacing as a strange failure later.
 * docs/configuration.md lists the same variables.
 */
export const ConfigSchema = Type.Object({
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_READ_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ default: '.data', minLength: 1 }),
  API_HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  API_PORT: Type.Integer({ default: 3001, minimum: 0, maximum: 65535 }),
  SEED_PRODUCTS: Type.Integer({ default: 10_000, minimum: 0, maximum: 10_000_000 }),
  CURSOR_SECRET: Type.String({ default: 'dev-only-cursor-secret-change-me', minLength: 16 }),
  RESPONSE_CACHE_TTL_MS: Type.Integer({ default: 1_000, minimum: 0, maximum: 10_000 }),
  RATE_LIMIT_READS_PER_MINUTE: Type.Integer({ default: 1_200, minimum: 0, maximum: 10_000_000 }),
  RATE_LIMIT_WRITES_PER_MINUTE: Type.Integer({ default: 300, minimum: 0, maximum: 10_000_000 }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 1_048_576, minimum: 1_024, maximum: 1_073_741_824 }),
  IMPORT_MAX_BYTES: Type.Integer({ default: 1_073_741_824, minimum: 1_024, maximum: 1_099_511_627_776 }),
  CORS_ORIGINS: Type.String({ default: '' }),
  TRUST_PROXY: Type.String({ default: '', pattern: '^[0-9A-Fa-f:.,/ ]*$' }),
  DATABASE_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 200 }),
  MEILISEARCH_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  MEILISEARCH_KEY: Type.Optional(Type.String()),
  MEILISEARCH_INDEX: Type.String({ default: 'products', pattern: '^[A-Za-z0-9_-]{1,200}$' }),
  MEILISEARCH_TIMEOUT_MS: Type.Integer({ default: 1_000, minimum: 50, maximum: 60_000 }),
  MEILISEARCH_MAX_LAG_MS: Type.Integer({ default: 60_000, minimum: 100, maximum: 86_400_000 }),
  MEILISEARCH_TASK_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100, maximum: 3_600_000 }),
  SEARCH_INDEXER: Type.Enum(['in-process', 'off'], { default: 'in-process' }),
  // Group commit of single stock adjustments without an Idempotency-Key (api/src/stock/coalescer.ts).
  STOCK_COALESCE: Type.Enum(['on', 'off'], { default: 'on' }),
  // Unset: no metrics are kept and /metrics does not exist. Set: Prometheus scrapes with it as a bearer token.
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.properties)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, known));
  const errors = Value.Errors(ConfigSchema, value);
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.instancePath.replace(/^\//, '') || '(environment)';
      return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${e.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = value as Config;
  corsOrigins(config.CORS_ORIGINS);
  if (config.DATABASE_READ_URL && !config.DATABASE_URL) {
    // Writes would go to the embedded server, which the replica cannot be following.
    throw new ConfigError(
      'Invalid configuration:\n  DATABASE_READ_URL: a read replica needs DATABASE_URL, the primary it replicates',
    );
  }
  return { ...config, DATA_DIR: resolve(config.DATA_DIR) };
}

/** CORS_ORIGINS: exact origins, comma-separated (`https://shop.example,https://admin.example`). */
export function corsOrigins(list: string): string[] {
  const origins = list
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(
        `Invalid configuration:\n  CORS_ORIGINS=${JSON.stringify(list)}: ${JSON.stringify(origin)} is not an origin such as https://shop.example`,
      );
    }
  }
  return origins;
}
