import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'api',
          include: ['api/test/**/*.test.ts'],
          environment: 'node',
          // One PostgreSQL server for the run; each test file gets its own database from a template.
          globalSetup: ['api/test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // A test that asserts nothing fails instead of passing.
          expect: { requireAssertions: true },
        },
      },
      {
        test: {
          name: 'web',
          include: ['web/test/**/*.test.ts'],
          environment: 'node',
          // The tests run the storefront as built: one build for every file.
          globalSetup: ['web/test/support/build.ts'],
          testTimeout: 60_000,
          hookTimeout: 300_000,
          // A test that asserts nothing fails instead of passing.
          expect: { requireAssertions: true },
        },
      },
      {
        test: {
          // The shared test support's own tests (the Meilisearch stand-in against its contract).
          name: 'testing',
          include: ['testing/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
    ],
  },
});
