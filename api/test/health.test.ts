import { describe, expect, it, onTestFinished } from 'vitest';
import { createDatabase } from '../src/db/database.ts';
import { emptyDatabase, testApp, testDatabase } from './support/database.ts';

describe('health and readiness', () => {
  it('is live and ready on a migrated database', async () => {
    const app = await testApp(await testDatabase());
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.headers['cache-control']).toBe('no-store');
  });

  it('is not ready on a database that is not migrated', async () => {
    const database = await emptyDatabase();
    const app = await testApp(database);
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().detail).toMatch(/not fully migrated/);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it('is not ready, quickly, when the database is unreachable', async () => {
    const database = createDatabase('postgres://nobody:nothing@127.0.0.1:1/none');
    onTestFinished(() => database.close());
    const app = await testApp(database);
    const started = Date.now();
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ status: 503, detail: 'The database is unreachable.' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
