import { z } from 'zod';
import { pauseProfilesOfBrokenServiceAccount } from '../services/service-account-health.js';
import { defineJob } from './define-job.js';

/**
 * Queued when a Service Account is marked broken (job id per breakage): disconnects and pauses all
 * its Profiles in one statement and notifies their Channels. Does nothing once it works again.
 */
export const serviceAccountsPauseProfiles = defineJob({
  name: 'service-accounts.pause-profiles',
  queue: 'maintenance',
  payload: z.object({ serviceAccountId: z.string().startsWith('ser_').max(64) }),
  attempts: 5,
  backoffMs: 5_000,
  handle: async ({ serviceAccountId }, ctx) => {
    const result = await pauseProfilesOfBrokenServiceAccount(ctx.app, serviceAccountId);
    ctx.logger.info(
      { serviceAccountId, paused: result !== undefined, ...result },
      'service account profiles paused',
    );
  },
});
