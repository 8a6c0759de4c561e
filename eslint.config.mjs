import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'db/migrations/**', 'coverage/**', 'packages/client/schema.d.ts', '*.js', '*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code must stay deterministic: no Node built-ins, no I/O modules.
    files: ['workflows/**/*.ts'],
    rules: {
      // Type-only imports are erased at compile time, so workflows may share activity and row types.
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os', 'events', 'timers'], message: 'Workflow code must be deterministic: no Node built-ins.' },
          { group: ['pg', 'drizzle-orm*', '@electric-sql/*', 'express', 'ws', '../db/*', '../activities', '../activities/*', '../api/*'], message: 'Workflow code does no I/O: call an activity.', allowTypeImports: true },
        ],
      }],
    },
  },
  // Layering (#14): the API calls workflows through temporal/calls.ts, never through the worker's code; entry points
  // in bin/ take shared code from its own home (temporal/, …), never from the scripts beside them.
  {
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../worker', '../worker/*', '../../worker', '../../worker/*'], message: 'api/ does not import worker/: workflow calls live in temporal/calls.ts.' }] }],
    },
  },
  {
    files: ['bin/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../scripts', '../scripts/*'], message: 'bin/ does not import scripts/: move what both need to a shared home (e.g. temporal/).' }] }],
    },
  },
);
