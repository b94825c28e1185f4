import { z } from 'zod';
import { attemptDelivery } from '../services/deliveries.js';
import { defineJob } from './define-job.js';

/**
 * One attempt at an outbound POST. Retries are scheduled by re-enqueuing with a delay (one job id
 * per attempt), so the schedule lives in Postgres (`next_attempt_at`) and survives a Redis flush:
 * the reconciler re-enqueues overdue deliveries.
 */
export const sendDelivery = defineJob({
  name: 'deliveries.send',
  queue: 'deliveries',
  payload: z.object({
    deliveryId: z.string().startsWith('dlv_'),
    attempt: z.number().int().min(0).default(0),
  }),
  attempts: 3,
  backoffMs: 2_000,
  jobId: (p) => `${p.deliveryId}-${p.attempt}`,
  handle: async ({ deliveryId, attempt }, ctx) => {
    const result = await attemptDelivery(ctx.app, deliveryId, attempt);
    ctx.logger.info({ deliveryId, outcome: result.outcome }, 'delivery attempt');
    if (result.outcome === 'retry' && result.retryInMs !== undefined) {
      await ctx.app.enqueue(
        'deliveries.send',
        { deliveryId, attempt: attempt + 1 },
        { delayMs: result.retryInMs },
      );
    }
  },
});
