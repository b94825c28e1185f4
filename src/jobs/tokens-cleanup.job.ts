import { z } from 'zod';
import { cleanupExpiredTokens } from '../services/token-cleanup.js';
import { defineJob } from './define-job.js';

/** Scheduled hourly: deletes codes and tokens that expired or were revoked more than the grace period ago. */
export const tokensCleanup = defineJob({
  name: 'tokens.cleanup',
  queue: 'maintenance',
  payload: z.object({}),
  attempts: 2,
  backoffMs: 10_000,
  handle: async (_payload, ctx) => {
    const deleted = await cleanupExpiredTokens(ctx.app, { signal: ctx.signal });
    ctx.logger.info(deleted, 'expired codes and tokens deleted');
  },
});
