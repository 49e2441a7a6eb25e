import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { openRuntime } from './runtime.ts';
import { SCOPES } from './db/schema.ts';
import { seedIfEmpty } from './seed/on-start.ts';

/**
 * The API server: configuration, database (embedded unless DATABASE_URL), migrations, the demo
 * catalogue on an embedded first start, then HTTP until SIGTERM/SIGINT, when in-flight requests
 * finish before the pool and the embedded PostgreSQL stop.
 */
let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}

const runtime = await openRuntime(config, { info: console.error, warn: console.error, debug: () => undefined }).catch(
  (error: unknown) => {
    console.error('Could not open the database:', error);
    process.exit(1);
  },
);
const app = await buildApp({ config, database: runtime.database });

let stopping: Promise<void> | undefined;
const stop = (signal: string) =>
  (stopping ??= (async () => {
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const timer = setTimeout(() => {
      app.log.error('shutdown took over 10 s: exiting');
      process.exit(1);
    }, 10_000);
    try {
      await app.close();
      await runtime.close();
      app.log.info('stopped');
    } finally {
      clearTimeout(timer);
    }
  })());
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, () => void stop(signal).then(() => process.exit(0)));

try {
  if (runtime.embedded) {
    const seeded = await seedIfEmpty(runtime.database.pool, { products: config.SEED_PRODUCTS, log: app.log });
    if (seeded) app.log.info(seeded, 'demo catalogue seeded');
    // A newcomer can try the write side at once: the first start makes an admin key, shown once.
    if ((await app.keys.count()) === 0) {
      const key = await app.keys.create('admin (made on first start)', [...SCOPES]);
      console.log(`\n  An admin API key was created (all scopes); it is shown this once:\n\n    ${key.secret}\n`);
    }
  }
  await app.listen({ host: config.API_HOST, port: config.API_PORT });
} catch (error) {
  app.log.error({ err: error }, 'could not start');
  await stop('startup failure');
  process.exit(1);
}
