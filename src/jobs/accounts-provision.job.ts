import { createHash } from 'node:crypto';
import { z } from 'zod';
import { applyEffects, PROVISION_BATCH, provisionBatch } from '../services/provisioning-pipeline.js';
import { defineJob } from './define-job.js';

/** A batch of run items: check mailboxes, create Accounts in one transaction, queue the callbacks. */
export const accountsProvision = defineJob({
  name: 'accounts.provision',
  queue: 'provisioning',
  payload: z.object({
    runId: z.string().startsWith('run_').max(64),
    itemIds: z
      .array(z.string().startsWith('itm_').max(64))
      .min(1)
      .max(PROVISION_BATCH * 4),
  }),
  attempts: 8,
  backoffMs: 3_000,
  // The same batch queued twice (e.g. by the reconciler) is one job.
  jobId: (p) =>
    `${p.runId}-b-${createHash('sha256').update(p.itemIds.join(',')).digest('base64url').slice(0, 16)}`,
  handle: async (payload, ctx) => {
    const fx = await provisionBatch(ctx.app, payload, {
      lastAttempt: ctx.attempt >= ctx.maxAttempts,
      signal: ctx.signal,
    });
    await applyEffects(ctx.app, payload.runId, fx);
  },
});
