// ESLint flat config. The workflow rules are the point: code under src/workflows/ (and the pure
// domain under src/domain/ it is built on) runs inside Temporal's deterministic sandbox, so Node
// built-ins, I/O libraries and activity implementations must never be imported there (only their
// types). The layers themselves (what may import what, no circles) are dependency-cruiser's
// (.dependency-cruiser.cjs), also run by `npm run lint`.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import prettier from 'eslint-config-prettier';

const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));
const bannedInWorkflows = [
  ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]),
  'express',
  'pino',
  'undici',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.data/**',
      '.cache/**',
      'bench/results/**',
      'coverage/**',
      // Mutation testing (npm run mutation): its reports and its copies of the project.
      'reports/**',
      '.stryker-tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'import-x/no-cycle': 'error',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...bannedInWorkflows.map((name) => ({
              name,
              message: 'Workflow code runs in the deterministic sandbox: no Node built-ins or I/O libraries.',
            })),
            // The sandbox evaluates workflow modules once per cached workflow: zod there cost about
            // 1 MB of worker memory per open subscription. Validate with plain functions instead.
            ...['zod', 'zod/v4', 'zod/mini'].map((name) => ({
              name,
              allowTypeImports: true,
              message: 'No schema library in workflow code: it is loaded once per cached workflow (memory).',
            })),
          ],
          patterns: [
            {
              group: [
                '**/activities',
                '**/activities/**',
                '**/qfpay/client*',
                '**/qfpay/schemas*',
                '**/api/**',
                '**/qfpay/emulator/**',
              ],
              allowTypeImports: true,
              message: 'Workflows import activities (and other I/O modules) as types only.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No process access in workflow code.' },
        { name: 'fetch', message: 'No I/O in workflow code: call an activity.' },
        { name: 'require', message: 'Use static imports in workflow code.' },
      ],
      // The workflow modules are shared by every workflow in a worker (src/temporal/workflow-modules.ts):
      // a variable at module scope would be one workflow's state leaking into the others.
      // The SDK deep-freezes what it shares, but not the contents of a Map or Set, so a collection
      // at module scope is refused too (a frozen object or array serves a constant lookup).
      'no-restricted-syntax': [
        'error',
        ...[
          'Program > VariableDeclaration',
          'Program > ExportNamedDeclaration > VariableDeclaration',
        ].flatMap((path) => [
          {
            selector: `${path}[kind!='const']`,
            message:
              'No let or var at module scope in workflow code: every workflow of a worker shares the module.',
          },
          {
            selector: `${path} > VariableDeclarator > NewExpression[callee.name=/^(Map|Set|WeakMap|WeakSet)$/]`,
            message:
              'No Map or Set at module scope in workflow code: every workflow of a worker shares the module, and its contents are not frozen.',
          },
        ]),
      ],
    },
  },
  {
    // One definition per route: the API's routes are mounted from their OpenAPI operation
    // (`handle` in src/api/route.ts), never declared with a path of their own.
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.object.name=/^(router|app|v1)$/][callee.property.name=/^(get|post|put|patch|delete|all)$/][arguments.0.type='Literal']",
          message:
            "Mount a route with handle(router, '<operationId>', …): its path and method come from its OpenAPI operation in src/api/openapi.ts.",
        },
      ],
    },
  },
  {
    // Tests read JSON bodies of many shapes; typing each one would only restate the schemas.
    files: ['test/**/*.ts', 'src/gateways/**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // CommonJS configuration files (dependency-cruiser reads `module.exports`).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  prettier,
);
