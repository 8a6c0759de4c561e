import js from '@eslint/js';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
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

/**
 * claims/: the vocabulary is pure (domain/'s rules); the desks (every `*desk.ts`) and the Updates they serve are
 * workflow code (the workflow rules).
 */
const CLAIMS_PURE = ['claims/vocabulary*.ts'];
const CLAIMS_WORKFLOW_SIDE = ['claims/*desk.ts', 'claims/messages*.ts'];

const API_NO_ACTIVITIES = {
  group: ['**/activities', '**/activities/*', '**/activities/**'],
  message: 'The API imports nothing from activities/ (types included): move what both need to domain/, db/ or lib/.',
};
const ACTIVITIES_NO_WORKFLOWS = {
  group: ['**/workflows', '**/workflows/*', '**/workflows/**'],
  message: 'Activities take no type from workflows/: share it through domain/.',
};
const API_NO_WORKER = {
  group: ['**/worker', '**/worker/*', '**/worker/**'],
  message: 'The API imports nothing from worker/ (types included).',
};

/** The server's folders: the pages (web/) know the server only through packages/client. */
const WEB_FORBIDDEN = [
  'api',
  'domain',
  'db',
  'activities',
  'workflows',
  'claims',
  'payments',
  'lib',
  'temporal',
  'worker',
  'ops',
];

/**
 * The data layer (db/) is the only production code that builds queries: nothing else imports drizzle-orm or the
 * schema, not even a type (a row type comes from its aggregate's module). Tests and the benchmark build fixtures.
 */
const DATA_LAYER_ONLY = {
  group: ['drizzle-orm', 'drizzle-orm/*', 'drizzle-orm/**', '**/db/schema', '**/db/schema.ts'],
  message:
    'Only db/ builds queries: call (or add) a named function of the aggregate that owns the table (db/README.md); row types come from that module too.',
};
/** Where the data layer's rule does not reach: the data layer itself, the tests and the benchmark (fixtures). */
const DATA_LAYER_EXEMPT = ['db/**', 'test/**', 'bench/**'];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'web/dist/**',
      'packages/client/dist/**',
      'db/migrations/**',
      'coverage/**',
      'packages/client/schema.d.ts',
      'packages/client/feed.d.ts',
      '*.js',
      '*.mjs',
      // package.json's bin: plain CommonJS that node runs as it is (test/ops/cli.test.ts drives it).
      'bin/*.cjs',
      // Plain-Node examples for buyers' developers, run as they are by the docs' tests (prettier still formats them).
      'docs/examples/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Imports sorted (packages, then the project's modules by path; `eslint --fix` sorts them), one import
      // declaration per module (a type-only import beside a value import of the same module is fine).
      'simple-import-sort/imports': 'error',
      'no-duplicate-imports': ['error', { allowSeparateTypeImports: true }],
    },
  },
  {
    // Every production folder without a rule block of its own below (worker/, bin/, ops/, scripts/, temporal/, lib/,
    // observability/, web/, packages/, claims/…): no Drizzle outside the data layer.
    files: ['**/*.ts', '**/*.tsx'],
    ignores: [...DATA_LAYER_EXEMPT, 'domain/**', 'workflows/**', 'api/**', 'activities/**'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [DATA_LAYER_ONLY] }] },
  },
  {
    // db/ is the bottom floor above domain/: it imports nothing from the layers that call it (types included), so a
    // module of the data layer can be read, tested and reused without the lifecycle, the API or the tools.
    files: ['db/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/temporal',
                '**/temporal/*',
                '**/temporal/**',
                '**/workflows',
                '**/workflows/*',
                '**/workflows/**',
                '**/activities',
                '**/activities/*',
                '**/activities/**',
                '**/api',
                '**/api/*',
                '**/api/**',
                '**/worker',
                '**/worker/*',
                '**/worker/**',
                '**/ops',
                '**/ops/*',
                '**/ops/**',
              ],
              message:
                'db/ imports nothing from the layers above it (temporal/, workflows/, activities/, api/, worker/, ops/): they call the data layer, not the other way.',
            },
            {
              // The claim's vocabulary is pure (held to domain/'s rules) and may be shared down here; the rest of claims/ calls db/.
              regex: '^(\\.\\./)+claims(/(?!vocabulary$).*)?$',
              message:
                'db/ takes only the pure vocabulary from claims/ (claims/vocabulary): the relay and the sale paths call db/.',
            },
          ],
        },
      ],
    },
  },
  {
    // domain/ is the pure rules: plain data in, plain data out. No Node built-ins, no I/O, nothing from the layers that
    // do I/O (type imports included), so a rule can be read and tested on its own. The claim vocabulary is as pure.
    files: ['domain/**/*.ts', ...CLAIMS_PURE],
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
    // Workflow code must stay deterministic: no Node built-ins, no I/O modules. The claim's desks and messages are
    // workflow code that lives in claims/.
    files: ['workflows/**/*.ts', ...CLAIMS_WORKFLOW_SIDE],
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
              group: ['pg', '@electric-sql/*', 'express', 'ws', '**/activities', '**/activities/*', '**/api/*'],
              message: 'Workflow code does no I/O: call an activity.',
              allowTypeImports: true,
            },
            // Not even a type: the shared vocabulary (timeline events, claims, routes' plain data) lives in domain/.
            { group: ['**/db', '**/db/*'], message: 'Workflows take no type from db/: share it through domain/.' },
            DATA_LAYER_ONLY,
          ],
        },
      ],
    },
  },
  {
    // The API checks URLs through lib/, shares vocabulary through domain/ and calls workflows through
    // temporal/calls.ts: it runs no activity or worker code.
    files: ['api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [API_NO_ACTIVITIES, API_NO_WORKER, DATA_LAYER_ONLY] },
      ],
    },
  },
  {
    // Activities take no type from workflows/ (the workflow imports the activities' types, not the other way).
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [ACTIVITIES_NO_WORKFLOWS, DATA_LAYER_ONLY] }],
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
            DATA_LAYER_ONLY,
          ],
        },
      ],
    },
  },
  {
    // The rest of claims/ (the relay, the sale paths) reads and writes through the data layer's named functions, and
    // takes nothing from the workflows or the worker: its desks and messages are in claims/ itself.
    files: ['claims/**/*.ts'],
    ignores: [...CLAIMS_PURE, ...CLAIMS_WORKFLOW_SIDE],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['pg', '@electric-sql/*'],
              message: 'claims/ builds no query: call a named function of the data layer (db/).',
            },
            DATA_LAYER_ONLY,
            {
              group: ['**/workflows', '**/workflows/*', '**/workflows/**', '**/worker', '**/worker/*', '**/worker/**'],
              message: 'claims/ takes nothing from workflows/ or worker/ (types included): the desks are in claims/.',
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
