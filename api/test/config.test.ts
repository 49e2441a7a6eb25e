import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('configuration', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ API_PORT: 3001, SEED_PRODUCTS: 10_000, LOG_LEVEL: 'info', DATABASE_POOL_SIZE: 10 });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.DATA_DIR).toMatch(/\/\.data$/);
  });

  it('reads and converts the environment', () => {
    const config = loadConfig({ API_PORT: '8080', SEED_PRODUCTS: '0', DATABASE_URL: 'postgres://u:p@db/catalogue' });
    expect(config).toMatchObject({ API_PORT: 8080, SEED_PRODUCTS: 0, DATABASE_URL: 'postgres://u:p@db/catalogue' });
  });

  it('names every bad variable and its value', () => {
    expect(() => loadConfig({ API_PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    try {
      loadConfig({ API_PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', CURSOR_SECRET: 'short' });
    } catch (error) {
      const message = (error as Error).message;
      for (const part of [
        'API_PORT="eighty"',
        'LOG_LEVEL="loud"',
        'DATABASE_URL="mysql://x"',
        'CURSOR_SECRET="short"',
      ]) {
        expect(message).toContain(part);
      }
    }
  });
});
