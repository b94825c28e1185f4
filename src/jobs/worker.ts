import { setMaxListeners } from 'node:events';
import { MetricsTime, Worker } from 'bullmq';
import { PROVISION_BATCH } from '../lib/provisioning.js';
import type { RedisClient } from '../lib/redis.js';
import { validateSchedules } from '../scheduler/register.js';
import { schedules } from '../scheduler/schedules.js';
import type { AppContext } from '../services/context.js';
import { QUEUE_NAMES, type QueueName } from './catalog.js';
import { type DeliveryPumpOptions, startDeliveryPump } from './delivery-pump.js';
import { buildRegistry } from './registry.js';
import { createProcessor, type JobObserver } from './run-job.js';

/**
 * Jobs in flight per queue and per process. Provider-bound queues get more (their jobs mostly wait
 * on the network and on the shared limiter); run more `ec worker` processes to scale out.
 */
export const DEFAULT_CONCURRENCY: Record<QueueName, number> = {
  authorizations: 20,
  provisioning: 8,
  profiles: 20,
  directory: 4,
  maintenance: 2,
};

/**
 * Provisioning batches in flight per process: the ones `PROVIDER_CALLS_IN_FLIGHT` (default 200)
 * mailbox checks fill at PROVISION_BATCH each, and 60 % more (at least two), so while some batches are
 * written, wait for their slowest check or for their next job, the others' checks keep the process's
 * check gate full (checkGate). A batch lasts about 1.6 times its mean check at a provider's latency
 * (it waits for its slowest, then writes): with a quarter more, 500 calls in flight at 300 ms ± 100
 * averaged under 400. The gate, not the job count, holds the calls in flight; the shared limiter still
 * gates every call.
 */
export function provisioningConcurrency(providerCallsInFlight: number): number {
  const filling = Math.max(1, Math.ceil(providerCallsInFlight / PROVISION_BATCH));
  return filling + Math.max(2, Math.ceil(filling * 0.6));
}

export type WorkerSet = { workers: Worker[]; close: () => Promise<void> };

export type WorkerOptions = {
  queues?: readonly QueueName[];
  concurrency?: Partial<Record<QueueName, number>>;
  /** Told about every job attempt (duration, outcome), e.g. ProcessMetrics.observeJob. */
  observeJob?: JobObserver;
  /** The delivery pump's options, or false for none (default: one pump with its defaults). */
  deliveries?: DeliveryPumpOptions | false;
};

/**
 * Starts one BullMQ Worker per queue and the delivery pump; `close()` stops taking work and waits
 * for what is active. Refuses to start when the catalog and the handlers disagree or a schedule
 * names an unknown job.
 */
export function startWorkers(app: AppContext, connection: RedisClient, opts: WorkerOptions = {}): WorkerSet {
  const registry = buildRegistry();
  validateSchedules(schedules(app.config.scheduler), registry);
  const controller = new AbortController();
  // Every provider call of every active job listens to this one signal.
  setMaxListeners(0, controller.signal);
  const processor = createProcessor(registry, app, controller.signal, opts.observeJob);
  const workers = (opts.queues ?? QUEUE_NAMES).map((queue) => {
    const worker = new Worker(queue, processor, {
      connection,
      prefix: app.config.redis.queuePrefix,
      concurrency:
        opts.concurrency?.[queue] ??
        (queue === 'provisioning'
          ? provisioningConcurrency(app.config.worker.providerCallsInFlight)
          : DEFAULT_CONCURRENCY[queue]),
      // A job whose worker died is picked up again once its lock expires (checked every half lock).
      lockDuration: app.config.worker.lockSecs * 1000,
      stalledInterval: Math.max(1000, (app.config.worker.lockSecs * 1000) / 2),
      maxStalledCount: 5,
      // Completed/failed counts per minute kept in Redis for a week: `ec queues` rates and bull-board.
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    });
    worker.on('error', (err) => app.logger.warn({ queue, err: err.message }, 'worker error'));
    return worker;
  });
  const pump = opts.deliveries === false ? undefined : startDeliveryPump(app, opts.deliveries);
  return {
    workers,
    close: async () => {
      controller.abort();
      await Promise.all([...workers.map((w) => w.close()), pump?.close()]);
    },
  };
}
