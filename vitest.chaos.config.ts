import { defineConfig } from 'vitest/config';

// `npm run test:chaos` (after the crash tests of test/chaos/*.int.test.ts): scenarios that start a
// whole deployment as separate processes and inject failures (test/chaos/processes/). Long-running,
// so not part of `npm test`; `npm run test:chaos -- --long` runs the larger soak variants.
export default defineConfig({
  test: {
    env: { NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    include: ['test/chaos/processes/**/*.chaos.ts'],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
