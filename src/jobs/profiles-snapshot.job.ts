import { snapshotProfiles } from '../services/profile-state-days.js';
import type { Handler } from './handler.js';

/** `profiles.snapshot`, hourly: today's Profiles connected and disconnected per Service Account. */
export const handleProfilesSnapshot: Handler<'profiles.snapshot'> = async (_payload, ctx) => {
  const serviceAccounts = await snapshotProfiles(ctx.app);
  ctx.logger.debug({ serviceAccounts }, 'profile counts recorded');
};
