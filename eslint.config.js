import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import drizzle from 'eslint-plugin-drizzle';
import importX from 'eslint-plugin-import-x';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';

/** Folders every capability may use, which know none of them. */
const PLUMBING = ['http', 'pagination', 'db'];
/** Folders that each own a part of what the API does. */
const CAPABILITIES = ['catalogue', 'stock', 'search', 'auth', 'imports', 'media', 'health', 'metrics', 'seed'];

export default ts.config(
  {
    ignores: [
      '**/node_modules/',
      '**/build/',
      '**/.svelte-kit/',
      '.data/',
      '.bench-data/',
      'scratch/',
      'web/src/lib/server/api-types.d.ts',
    ],
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { drizzle },
    rules: {
      // An UPDATE or DELETE without WHERE touches the whole catalogue: never by accident.
      'drizzle/enforce-delete-with-where': ['error', { drizzleObjectName: ['db', 'tx'] }],
      'drizzle/enforce-update-with-where': ['error', { drizzleObjectName: ['db', 'tx'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['web/**/*.svelte', 'web/**/*.svelte.ts'],
    languageOptions: { globals: { ...globals.browser }, parserOptions: { parser: ts.parser } },
    rules: {
      // The storefront has no base path, and most of its links carry a query string built by
      // $lib/links.ts (filters, sort, cursor): resolve() would add nothing.
      'svelte/no-navigation-without-resolve': ['error', { ignoreLinks: true }],
    },
  },
  {
    // The API's import graph: no cycle between files (a cycle makes the load order decide what a
    // module sees), and plumbing that knows no capability, so it can serve them all.
    files: ['api/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Parse the imported files as TypeScript too, or no-cycle cannot follow them.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: `${import.meta.dirname}/api/tsconfig.json` }),
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: import.meta.dirname,
          zones: PLUMBING.map((folder) => ({
            target: `./api/src/${folder}`,
            from: CAPABILITIES.map((capability) => `./api/src/${capability}`),
            message: `api/src/${folder} is plumbing: it imports no capability folder (${CAPABILITIES.join(', ')}).`,
          })),
        },
      ],
    },
  },
  {
    // The storefront talks to the API over HTTP only, typed by the generated api-types.d.ts.
    // (web/test and web/scripts still share the API's test support: they join when it moves into
    // a workspace of its own.)
    files: ['web/src/**/*.{ts,js,svelte}', 'web/server/**/*.{ts,js}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)api/(src|test)(/|$)|^@catalogue/api(/|$)',
              message: 'web/ never imports api/: it reads the API over HTTP, typed by $lib/server/api-types.d.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    // Small enough to read in one sitting (STYLE.md §18); data and generated files apart.
    files: ['api/src/**/*.ts', 'web/src/**/*.{ts,js,svelte}'],
    ignores: ['api/src/seed/taxonomy.ts'],
    rules: {
      'max-lines': ['error', { max: 400 }],
      'max-lines-per-function': ['error', { max: 80 }],
    },
  },
);
