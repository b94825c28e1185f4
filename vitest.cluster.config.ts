import { defineConfig } from 'vitest/config';

// `npm run test:cluster`: the integration tests that touch Redis, run against a real local Redis
// Cluster (3 masters + 3 replicas, started by test/cluster/global-setup.ts from Debian's
// redis-server), plus a provisioning run whose master is failed over mid-run.
export default defineConfig({
  test: {
    env: { NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    name: 'cluster',
    include: [
      'test/providers/limiter.int.test.ts',
      'test/lib/fixed-windows.int.test.ts',
      'test/providers/quotas.int.test.ts',
      'test/runs/provisioning.int.test.ts',
      'test/api/rate-limit.int.test.ts',
      'test/ops/metrics.int.test.ts',
      'test/ops/worker-health.int.test.ts',
      'test/cluster/*.int.test.ts',
    ],
    globalSetup: ['test/global-setup.ts', 'test/cluster/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
