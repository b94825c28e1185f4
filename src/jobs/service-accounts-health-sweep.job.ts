import { z } from 'zod';
import { sweepHealthChecks } from '../services/service-account-health.js';
import { defineJob } from './define-job.js';

/** Scheduled every SWEEP_INTERVAL_SECONDS: queues a health check for each broken Service Account that is due. */
export const serviceAccountsHealthSweep = defineJob({
  name: 'service-accounts.health-sweep',
  queue: 'maintenance',
  payload: z.object({}),
  attempts: 2,
  backoffMs: 1_000,
  handle: async (_payload, ctx) => {
    const queued = await sweepHealthChecks(ctx.app);
    ctx.logger.info({ queued }, 'service account health sweep finished');
  },
});
