import { finishDirectorySync } from '../services/directory-sync.js';
import type { Handler } from './handler.js';

/**
 * `directory.sync-finish`: entries not listed are marked removed (their Profiles disconnected),
 * Accounts past the grace period revoked, new entries auto-provisioned, next sync scheduled.
 */
export const handleDirectorySyncFinish: Handler<'directory.sync-finish'> = async (payload, ctx) => {
  await finishDirectorySync(ctx.app, payload, {
    signal: ctx.signal,
    logger: ctx.logger.child({ serviceAccountId: payload.serviceAccountId }),
  });
};
