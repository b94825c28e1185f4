import type { Config } from './config.js';
import { createDatabase, type Database, type Db } from './db/client.js';
import { Keyring } from './lib/crypto.js';
import { createRedisClient, type RedisClient, type RedisTarget } from './lib/redis.js';
import type { Logger } from './logger.js';

/**
 * The composition root: everything a process needs, built from config. Entry points (src/bin, src/cli)
 * call `createDeps`; nothing else constructs clients. Redis connects on first use, so commands that
 * only touch Postgres never open a Redis connection.
 */
export type Deps = {
  config: Config;
  logger: Logger;
  database: Database;
  db: Db;
  keyring: Keyring;
  redis: () => RedisClient;
  close: () => Promise<void>;
};

export type DepsOptions = { dbPoolSize?: number; applicationName?: string };

/**
 * A Redis connection (a server or a Redis Cluster): the process's shared one (BullMQ, metrics), and the
 * provider limiter's own, which pipelines (`enableAutoPipelining`, runtime.ts).
 */
export function createRedis(
  target: RedisTarget,
  logger: Logger,
  opts: { enableAutoPipelining?: boolean } = {},
): RedisClient {
  // BullMQ workers need maxRetriesPerRequest: null (blocking commands must not fail after retries).
  const redis = createRedisClient(target, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    enableReadyCheck: true,
    ...opts,
  });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  return redis;
}

export function createDeps(config: Config, logger: Logger, opts: DepsOptions = {}): Deps {
  const database = createDatabase(config.databaseUrl, {
    poolMode: config.databasePoolMode,
    ...(opts.dbPoolSize === undefined ? {} : { max: opts.dbPoolSize }),
    ...(opts.applicationName === undefined ? {} : { applicationName: opts.applicationName }),
  });
  let redis: RedisClient | undefined;
  return {
    config,
    logger,
    database,
    db: database.db,
    keyring: new Keyring(config.encryptionKeys),
    redis: () => {
      redis ??= createRedis(config.redis, logger);
      return redis;
    },
    close: async () => {
      if (redis) {
        redis.disconnect();
      }
      await database.close();
    },
  };
}
