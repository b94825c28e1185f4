import { checkProfile } from '../services/profiles.js';
import type { Handler } from './handler.js';

/**
 * `profiles.check`: checks one Profile claimed by a sweep — reconnects it, disconnects it with a
 * reason code, or marks its Service Account broken. A job that outlived its claim does nothing.
 */
export const handleProfilesCheck: Handler<'profiles.check'> = async (payload, ctx) => {
  const logger = ctx.logger.child({ profileId: payload.profileId });
  const outcome = await checkProfile(ctx.app, payload, {
    signal: ctx.signal,
    lastAttempt: ctx.attempt >= ctx.maxAttempts,
    logger,
  });
  logger.info({ outcome }, 'profile checked');
};
