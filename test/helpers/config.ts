import { type Config, loadConfig } from '../../src/config.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from './redis.js';

/** A test key, so tests also exercise a real (non-demo) keyring. */
export const TEST_ENCRYPTION_KEYS = 'test1:dGVzdC1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=';

/** Config for a test: its own database and Redis prefix, the test keyring, quiet logs. */
export function testConfig(opts: {
  databaseUrl: string;
  queuePrefix: string;
  env?: Record<string, string>;
}): Config {
  return loadConfig(
    {
      DATABASE_URL: opts.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      ...(TEST_REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES } : {}),
      QUEUE_PREFIX: opts.queuePrefix,
      ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      OUTBOUND_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'silent',
      ...opts.env,
    },
    'test',
  );
}
