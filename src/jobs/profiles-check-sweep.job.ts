import { z } from 'zod';
import { sweepDueProfiles } from '../services/profiles.js';
import { defineJob } from './define-job.js';

/**
 * Scheduled every SWEEP_INTERVAL_SECONDS: claims the due Profiles (connected ones whose regular
 * check is due, disconnected ones whose backoff is over) and queues one `profiles.check` each. A
 * failed sweep is not retried hard: the next tick sweeps again.
 */
export const profilesCheckSweep = defineJob({
  name: 'profiles.check-sweep',
  queue: 'maintenance',
  payload: z.object({}),
  attempts: 2,
  backoffMs: 1_000,
  handle: async (_payload, ctx) => {
    const result = await sweepDueProfiles(ctx.app, { signal: ctx.signal });
    ctx.logger.info(result, 'profile check sweep finished');
  },
});
