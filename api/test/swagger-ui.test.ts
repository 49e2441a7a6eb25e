import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '@catalogue/testing/browser';
import type { App } from '../src/app.ts';
import { testApp, testDatabase } from './support/database.ts';

describe('Swagger UI at /docs', () => {
  let app: App;
  let browser: Browser;
  let origin: string;
  let key: string;

  beforeAll(async () => {
    app = await testApp(await testDatabase());
    key = (await app.keys.create('swagger ui', ['stock:write'])).secret;
    origin = await app.listen({ host: '127.0.0.1', port: 0 });
    // A fresh profile per launch (Playwright makes one in a temporary directory).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('takes a key in "Authorize" and answers "Try it out" on GET /v1/keys/me with 200', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    // Everything the page loads comes from this server: Swagger UI's assets are served locally.
    const elsewhere: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith('data:')) elsewhere.push(request.url());
    });

    const document = await page.goto(`${origin}/docs`);
    // The page works under its own Content-Security-Policy: a violation is a console error.
    expect(document?.headers()['content-security-policy']).toContain("default-src 'none'");
    const operation = page.locator('#operations-keys-currentKey');
    await operation.waitFor();

    await page.locator('.auth-wrapper .btn.authorize').click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.locator('input').fill(key);
    await dialog.locator('.auth-btn-wrapper .btn.authorize').click();
    await dialog.locator('.btn-done').click();

    await operation.locator('.opblock-summary').click();
    await operation.locator('.try-out__btn').click();
    const [answer] = await Promise.all([
      page.waitForResponse((response) => response.url() === `${origin}/v1/keys/me`),
      operation.locator('.btn.execute').click(),
    ]);

    expect(await answer.request().headerValue('authorization')).toBe(`Bearer ${key}`);
    expect(answer.status()).toBe(200);
    expect(await answer.json()).toMatchObject({ name: 'swagger ui', scopes: ['stock:write'] });
    // The page shows the answer.
    await expect
      .poll(() => operation.locator('.live-responses-table tbody .response-col_status').first().textContent())
      .toBe('200');
    expect(problems).toEqual([]);
    expect(elsewhere).toEqual([]);
  });
});
