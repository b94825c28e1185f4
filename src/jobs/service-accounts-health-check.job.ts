import { z } from 'zod';
import { checkServiceAccountHealth } from '../services/service-account-health.js';
import { defineJob } from './define-job.js';

/** Verifies one broken Service Account: active again (its Profiles due now) or checked later. */
export const serviceAccountsHealthCheck = defineJob({
  name: 'service-accounts.health-check',
  queue: 'maintenance',
  payload: z.object({
    serviceAccountId: z.string().startsWith('ser_').max(64),
    leaseAt: z.number().int().positive(),
  }),
  attempts: 3,
  backoffMs: 5_000,
  jobId: (p) => `health-${p.serviceAccountId}-${p.leaseAt}`,
  handle: async (payload, ctx) => {
    const logger = ctx.logger.child({ serviceAccountId: payload.serviceAccountId });
    const outcome = await checkServiceAccountHealth(ctx.app, payload, { signal: ctx.signal, logger });
    logger.info({ outcome }, 'service account health checked');
  },
});
