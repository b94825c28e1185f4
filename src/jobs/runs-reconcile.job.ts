import { z } from 'zod';
import { reconcile } from '../services/reconcile.js';
import { defineJob } from './define-job.js';

/** Re-queues work of stalled runs and pending authorization requests from Postgres (after crashes or a Redis flush). */
export const runsReconcile = defineJob({
  name: 'runs.reconcile',
  queue: 'maintenance',
  payload: z.object({}).strict(),
  attempts: 3,
  handle: async (_payload, ctx) => {
    await reconcile(ctx.app);
  },
});
