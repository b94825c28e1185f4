import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import type { Enqueue, EnqueueBulk, LiveJobs } from '../jobs/catalog.js';
import type { Keyring } from '../lib/crypto.js';
import type { RedisClient } from '../lib/redis.js';
import type { Logger } from '../logger.js';
import type { PermissionProbe } from '../providers/probe.js';
import type { DirectoryProvider, ServiceCredentials } from '../providers/types.js';

/** How services reach a provider: for a stored Service Account, or for credentials being verified. */
export type ProviderAccess = {
  forServiceAccount: (serviceAccount: ServiceAccount) => DirectoryProvider;
  /** A throwaway provider for credentials not stored yet (registration); the caller closes it. */
  forCredentials: (credentials: ServiceCredentials) => DirectoryProvider;
  /** A live permission check of a credential (`ec doctor`); counted against `serviceAccountId`'s quotas; the caller closes it. */
  probe: (credentials: ServiceCredentials, serviceAccountId: string) => PermissionProbe;
  /** Drops this process's cached client of a Service Account (its tokens and remembered refusals). */
  evict: (serviceAccountId: string) => void;
  close: () => Promise<void>;
};

/**
 * What use-cases need, built once per process by the composition root (deps.ts) and passed to
 * API routes and job handlers.
 */
export type AppContext = {
  config: Config;
  logger: Logger;
  db: Db;
  keyring: Keyring;
  redis: () => RedisClient;
  enqueue: Enqueue;
  /** Many jobs of one name in one round trip per 1,000 (sweeps fanning out). */
  enqueueBulk: EnqueueBulk;
  /** The payloads of a job's jobs that will still run (the reconciler re-queues only what is not). */
  liveJobs: LiveJobs;
  providers: ProviderAccess;
};
