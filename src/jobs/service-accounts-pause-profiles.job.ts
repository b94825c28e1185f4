import { pauseProfilesOfBrokenServiceAccount } from '../services/service-account-health.js';
import type { Handler } from './handler.js';

/**
 * `service-accounts.pause-profiles`, queued when a Service Account is marked broken (one job per
 * breakage): disconnects and pauses all its Profiles in one statement and notifies their Channels.
 * Does nothing once it works again.
 */
export const handleServiceAccountsPauseProfiles: Handler<'service-accounts.pause-profiles'> = async (
  { serviceAccountId },
  ctx,
) => {
  const result = await pauseProfilesOfBrokenServiceAccount(ctx.app, serviceAccountId);
  ctx.logger.info(
    { serviceAccountId, paused: result !== undefined, ...result },
    'service account profiles paused',
  );
};
