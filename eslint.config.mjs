import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node's built-in modules: neither the pure rules (domain/) nor deterministic workflow code may import them. */
const NODE_BUILTINS = [
  'node:*',
  'fs',
  'path',
  'crypto',
  'http',
  'https',
  'net',
  'dns',
  'child_process',
  'os',
  'events',
  'timers',
];

const API_NO_ACTIVITIES = {
  group: ['**/activities', '**/activities/*', '**/activities/**'],
  message: 'The API imports nothing from activities/ (types included): move what both need to domain/, db/ or lib/.',
};
const API_NO_WORKER = {
  group: ['**/worker', '**/worker/*', '**/worker/**'],
  message: 'The API imports nothing from worker/ (types included).',
};

/** The server's folders: the pages (web/) know the server only through packages/client. */
const WEB_FORBIDDEN = ['api', 'domain', 'db', 'activities', 'workflows', 'claims', 'lib', 'temporal', 'worker', 'ops'];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'web/dist/**',
      'db/migrations/**',
      'coverage/**',
      'packages/client/schema.d.ts',
      'packages/client/feed.d.ts',
      '*.js',
      '*.mjs',
    ],
  },
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
    // domain/ is the pure rules: plain data in, plain data out. No Node built-ins, no I/O, nothing from the layers that
    // do I/O (type imports included), so a rule can be read and tested on its own.
    files: ['domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: NODE_BUILTINS,
              message: 'domain/ is pure: no Node built-ins.',
            },
            {
              group: [
                'pg',
                'drizzle-orm*',
                '@electric-sql/*',
                '@temporalio/*',
                'express',
                'ws',
                'undici',
                'nodemailer',
              ],
              message: 'domain/ is pure: no I/O modules.',
            },
            {
              group: [
                '**/db',
                '**/db/*',
                '**/api',
                '**/api/*',
                '**/activities',
                '**/activities/*',
                '**/worker',
                '**/worker/*',
                '**/workflows',
                '**/workflows/*',
                '**/lib',
                '**/lib/*',
                '**/temporal',
                '**/temporal/*',
              ],
              message: 'domain/ takes nothing from the layers that do I/O: they import domain/, not the other way.',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code must stay deterministic: no Node built-ins, no I/O modules.
    files: ['workflows/**/*.ts'],
    rules: {
      // Type-only imports are erased at compile time, so workflows may share activity and row types.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: NODE_BUILTINS,
              message: 'Workflow code must be deterministic: no Node built-ins.',
            },
            {
              group: [
                'pg',
                'drizzle-orm*',
                '@electric-sql/*',
                'express',
                'ws',
                '**/activities',
                '**/activities/*',
                '**/api/*',
              ],
              message: 'Workflow code does no I/O: call an activity.',
              allowTypeImports: true,
            },
            // Not even a type: the shared vocabulary (timeline events, claims, routes' plain data) lives in domain/.
            { group: ['**/db', '**/db/*'], message: 'Workflows take no type from db/: share it through domain/.' },
          ],
        },
      ],
    },
  },
  {
    // The API checks URLs through lib/, shares vocabulary through domain/ and calls workflows through
    // temporal/calls.ts: it runs no activity or worker code.
    files: ['api/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [API_NO_ACTIVITIES, API_NO_WORKER] }] },
  },
  {
    // Activities take no type from workflows/ (the workflow imports the activities' types, not the other way).
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows', '**/workflows/*', '**/workflows/**'],
              message: 'Activities take no type from workflows/: share it through domain/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The pages speak to the server only through its contract: API and feed types come from the generated client
    // (packages/client), refusal wording from the answers. Nothing from the server's folders (type imports included).
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${WEB_FORBIDDEN.join('|')})(/|$)`,
              message:
                'web/ imports nothing from the server (types included): take API and feed types from packages/client.',
            },
          ],
        },
      ],
    },
  },
  {
    // Entry points in bin/ take shared code from its own home (temporal/, …), never from the scripts beside them.
    files: ['bin/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../scripts', '../scripts/*'],
              message: 'bin/ does not import scripts/: move what both need to a shared home (e.g. temporal/).',
            },
          ],
        },
      ],
    },
  },
);
