import type { Config } from './config.js';
import { createDeps, createRedis, type Deps, type DepsOptions } from './deps.js';
import { JobQueues } from './jobs/queues.js';
import { withDeadline } from './lib/deadline.js';
import type { Logger } from './logger.js';
import { createProcessMetrics, type ProcessMetrics } from './metrics/process.js';
import type { ProviderLimiter } from './providers/limiter.js';
import type { AppContext } from './services/context.js';
import { createProviderAccess } from './services/provider-access.js';

/**
 * Everything a long-running process (api, worker, scheduler, demo) needs: deps plus the queues and
 * provider access, wired into the AppContext that routes and job handlers receive.
 */
export type Runtime = {
  deps: Deps;
  app: AppContext;
  queues: JobQueues;
  limiter: ProviderLimiter;
  /** This process's job, provider-call and limiter figures (served by /metrics, or published by workers). */
  metrics: ProcessMetrics;
  close: () => Promise<void>;
};

export type RuntimeOptions = DepsOptions & {
  /** Adds to the queues fail after this many ms without Redis (see JobQueuesOptions); the API sets it. */
  enqueueTimeoutMs?: number;
};

/** Bound on closing the queues and provider access (their last Redis commands) on shutdown. */
export const RUNTIME_REDIS_CLOSE_MS = 3_000;

/** The API's bound on an add: long enough for a busy Redis, short enough to answer 503 quickly. */
export const API_ENQUEUE_TIMEOUT_MS = 2_000;

export function createRuntime(config: Config, logger: Logger, opts: RuntimeOptions = {}): Runtime {
  const { enqueueTimeoutMs, ...depsOptions } = opts;
  const deps = createDeps(config, logger, depsOptions);
  const redis = deps.redis();
  const queues = new JobQueues(
    redis,
    config.redis.queuePrefix,
    enqueueTimeoutMs === undefined ? {} : { addTimeoutMs: enqueueTimeoutMs },
  );
  const metrics = createProcessMetrics();
  // The limiter and the token store on a connection of their own that pipelines by itself: every
  // provider call takes a permit and frees it (two commands), and thousands of calls a second would
  // otherwise be one socket write each, on the connection BullMQ uses too.
  const providerRedis = createRedis(config.redis, logger, { enableAutoPipelining: true });
  const providers = createProviderAccess({
    onCall: metrics.observeProviderCall,
    onWait: metrics.observeLimiterWait,
    urls: config.providers,
    graphBatchSize: config.worker.graphBatchSize,
    graphBatching: config.worker.graphBatching,
    redis: providerRedis,
    keyPrefix: config.redis.queuePrefix,
    keyring: deps.keyring,
    logger,
  });
  const app: AppContext = {
    config,
    logger,
    db: deps.db,
    keyring: deps.keyring,
    redis: deps.redis,
    enqueue: queues.enqueue,
    enqueueBulk: queues.enqueueBulk.bind(queues),
    liveJobs: queues.liveJobs,
    providers,
  };
  return {
    deps,
    app,
    queues,
    limiter: providers.limiter,
    metrics,
    close: async () => {
      // With Redis away these wait on a dead connection: bounded, then deps.close cuts it.
      const bounded = (what: string, work: Promise<void>) =>
        withDeadline(work, RUNTIME_REDIS_CLOSE_MS, () => new Error(`${what} did not close in time`));
      const results = await Promise.allSettled([
        bounded('provider access', providers.close()),
        bounded('queues', queues.close()),
      ]);
      providerRedis.disconnect();
      await deps.close();
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) {
        throw failed.reason;
      }
    },
  };
}
