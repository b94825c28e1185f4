import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import {
  clusterOfNodes,
  createRedisClient,
  parseRedisNodes,
  type RedisClient,
  type RedisClientOptions,
  type RedisTarget,
  scanTargets,
} from '../../src/lib/redis.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Set when the tests run against a Redis Cluster (`npm run test:cluster`, whose global setup starts
 * one: test/cluster/global-setup.ts); every Redis client of the tests and of the code under test then
 * talks to the cluster.
 */
export const TEST_REDIS_CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES || undefined;

function target(): RedisTarget {
  if (!TEST_REDIS_CLUSTER_NODES) {
    return { url: TEST_REDIS_URL, cluster: null };
  }
  const nodes = parseRedisNodes(TEST_REDIS_CLUSTER_NODES);
  if (typeof nodes === 'string') {
    throw new Error(`REDIS_CLUSTER_NODES: ${nodes}`);
  }
  return { url: TEST_REDIS_URL, cluster: clusterOfNodes(nodes, TEST_REDIS_URL) };
}

export const TEST_REDIS_TARGET: RedisTarget = target();

/** A client of the tests' Redis: the server, or the cluster. The caller disconnects it. */
export function testRedis(opts: RedisClientOptions = {}): RedisClient {
  return createRedisClient(TEST_REDIS_TARGET, opts);
}

/** The keys matching `pattern` (a SCAN MATCH glob), on every master of a cluster (KEYS sees one node). */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  if (redis.status === 'wait') {
    await redis.connect();
  }
  const found: string[] = [];
  for (const node of scanTargets(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** Deletes every key matching `pattern`, one DEL per key (a multi-key DEL must stay in one slot). */
export async function deleteKeys(redis: RedisClient, pattern: string): Promise<number> {
  let deleted = 0;
  for (const key of await keysMatching(redis, pattern)) {
    deleted += await redis.del(key);
  }
  return deleted;
}

/** Deletes every key of a deployment (its QUEUE_PREFIX): what a Redis restart without persistence does. */
export async function flushDeployment(prefix: string): Promise<number> {
  const redis = testRedis({ lazyConnect: true });
  try {
    return await deleteKeys(redis, `${prefix}:*`);
  } finally {
    redis.disconnect();
  }
}

/**
 * A Redis key prefix of this test file's own (use it as QUEUE_PREFIX / limiter prefix); every key
 * under it is deleted after the file's tests. Against a cluster it is hash-tagged (`{ect-…}`), as
 * config.ts tags QUEUE_PREFIX, so multi-key commands of the tests find their keys in one slot.
 */
export function useRedisPrefix(): string {
  const name = `ect-${randomBytes(5).toString('hex')}`;
  const prefix = TEST_REDIS_CLUSTER_NODES ? `{${name}}` : name;
  afterAll(async () => {
    const redis = testRedis({ lazyConnect: true });
    try {
      await deleteKeys(redis, `${prefix}*`);
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}
