import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'lib/',
      '.venv/',
      'jupyterlab_scanflow/',
      'bench/results/',
      'ui-tests/test-results/'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
      'no-restricted-imports': 'off'
    }
  },
  {
    // Browser code never imports Node-only modules.
    files: ['src/lab/**/*.ts', 'src/workflow/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'child_process', 'os', 'dockerode', 'better-sqlite3'],
              message: 'src/lab and src/workflow run in the browser: no Node-only modules.'
            }
          ]
        }
      ]
    }
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  }
);
