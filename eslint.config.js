// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'data/**',
      'test/artifacts/**',
      'bench/results/**',
      // Generated from server/proto by protoc-gen-es.
      'server/src/pyroscope/gen/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Promises are awaited or handled on purpose: a floating promise's rejection crashes or is
    // lost, and a promise where a callback's result is ignored (an event handler, a timer) is one.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // Dependency direction: the agent and the UI never import server code.
    files: ['agent/**/*.ts', 'ui/**/*.ts', 'ui/**/*.tsx', 'wire/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@kiln/server', '@kiln/server/*', '**/server/src/**'],
              message: 'agent/ui/wire never import server code; share types through @kiln/wire',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', 'bench/**/*.mjs', 'test/**/*.mjs'],
    rules: { 'no-console': 'off' },
  },
)
