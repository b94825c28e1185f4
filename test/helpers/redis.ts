import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A Redis key prefix of this test file's own (use it as QUEUE_PREFIX / limiter prefix); every key
 * under it is deleted after the file's tests.
 */
export function useRedisPrefix(): string {
  const prefix = `ect-${randomBytes(5).toString('hex')}`;
  afterAll(async () => {
    const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) {
          await redis.del(...keys);
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}
