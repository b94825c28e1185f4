import { sweepDueProfiles } from '../services/profiles.js';
import type { Handler } from './handler.js';

/**
 * `profiles.check-sweep`, every SWEEP_INTERVAL_SECONDS: claims the due Profiles (connected ones
 * whose regular check is due, disconnected ones whose backoff is over) and queues one
 * `profiles.check` each. A failed sweep is not retried hard: the next tick sweeps again.
 */
export const handleProfilesCheckSweep: Handler<'profiles.check-sweep'> = async (_payload, ctx) => {
  const result = await sweepDueProfiles(ctx.app, { signal: ctx.signal });
  ctx.logger.info(result, 'profile check sweep finished');
};
