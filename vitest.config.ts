import { defineConfig } from 'vitest/config'

/**
 * Three projects, selected with `--project`:
 * - unit: pure logic next to the code (`<pkg>/src/**\/*.test.ts`), no store, no network.
 * - integration: a package against real parts (chDB, HTTP on port 0) (`<pkg>/test/**`).
 * - e2e: across packages, child processes and a real browser (`test/e2e/**`).
 * chDB binds one data directory per process, so every file runs in its own forked process.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{agent,cli,server,ui,wire}/src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{agent,server}/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
