// ESLint flat config. Syntax-only rules (no type-aware linting: a typed program of this size takes
// minutes on a 2-core machine and `tsc` already checks types). Formatting is prettier's job, so
// eslint-config-prettier goes last and switches off every stylistic rule that could disagree with it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'node_modules/', 'test/fixtures/', 'proto/', 'bench/.work/', '.airlock-cache/'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: globals.node,
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Type-only imports are erased by esbuild and tsc without looking at other files; marking
      // them keeps the bundle's start-up path free of modules loaded only for their types.
      '@typescript-eslint/consistent-type-imports': [
        'error',
        // `import { value, type T }` for mixed imports is how the code is written (265 lines; 3 files split
        // them instead). `typeof import('m')` stays allowed: it types a module loaded lazily with
        // require()/import() at that spot (node:crypto, Bull Board, cron-parser...), which a top-level
        // `import type` would make read like a start-up dependency. test/architecture.test.ts counts
        // those edges too.
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // `import { type A }` keeps an empty `import 'x'` at run time; `import type { A }` does not.
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // `let { location, minChunk } = ...` where only one is reassigned cannot be half const; and a
      // variable declared before a closure that reads it (and set after) cannot be const where it stands.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: {
      // CommonJS files load their dependencies with require() by definition.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  prettier,
);
