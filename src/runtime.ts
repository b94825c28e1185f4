import type { Config } from './config.js';
import { createDeps, type Deps, type DepsOptions } from './deps.js';
import { JobQueues } from './jobs/queues.js';
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

export function createRuntime(config: Config, logger: Logger, opts: DepsOptions = {}): Runtime {
  const deps = createDeps(config, logger, opts);
  const redis = deps.redis();
  const queues = new JobQueues(redis, config.redis.queuePrefix);
  const metrics = createProcessMetrics();
  const providers = createProviderAccess({
    onCall: metrics.observeProviderCall,
    onWait: metrics.observeLimiterWait,
    urls: config.providers,
    redis,
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
      await providers.close();
      await queues.close();
      await deps.close();
    },
  };
}
