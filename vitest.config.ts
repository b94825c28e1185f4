import { defineConfig } from 'vitest/config';

// Unit tests (`*.test.ts`) sit beside pure code and need nothing running. Integration tests
// (`*.int.test.ts`) talk to real Postgres and Redis: global setup migrates a template database once,
// and each test file clones its own database from it and uses its own Redis key prefix, so files run
// in parallel.
export default defineConfig({
  test: {
    env: { NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    // Two files at a time even on 2 cores (vitest would run one): the integration tests mostly wait
    // on Postgres, Redis, the sandbox and child processes, and one at a time left a core idle.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['src/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          // Against a local Redis Cluster only: `npm run test:cluster` (vitest.cluster.config.ts).
          exclude: ['test/cluster/**', 'node_modules/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
