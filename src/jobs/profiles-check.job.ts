import { z } from 'zod';
import { checkProfile } from '../services/profiles.js';
import { defineJob } from './define-job.js';

/**
 * Checks one Profile claimed by a sweep: reconnects it, disconnects it with a reason code, or marks
 * its Service Account broken. `leaseAt` names the claim, so one claim is one job, and a job that
 * outlived its claim does nothing.
 */
export const profilesCheck = defineJob({
  name: 'profiles.check',
  queue: 'profiles',
  payload: z.object({
    profileId: z.string().startsWith('pro_').max(64),
    leaseAt: z.number().int().positive(),
  }),
  attempts: 5,
  backoffMs: 5_000,
  jobId: (p) => `check-${p.profileId}-${p.leaseAt}`,
  handle: async (payload, ctx) => {
    const logger = ctx.logger.child({ profileId: payload.profileId });
    const outcome = await checkProfile(ctx.app, payload, {
      signal: ctx.signal,
      lastAttempt: ctx.attempt >= ctx.maxAttempts,
      logger,
    });
    logger.info({ outcome }, 'profile checked');
  },
});
