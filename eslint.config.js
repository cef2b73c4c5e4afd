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
