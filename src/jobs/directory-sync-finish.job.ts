import { finishDirectorySync, syncJobId, syncStepSchema } from '../services/directory-sync.js';
import { defineJob } from './define-job.js';

/**
 * The end of a directory sync: entries not listed are marked removed (their Profiles disconnected),
 * Accounts past the grace period revoked, new entries auto-provisioned, next sync scheduled.
 */
export const directorySyncFinish = defineJob({
  name: 'directory.sync-finish',
  queue: 'directory',
  payload: syncStepSchema,
  attempts: 5,
  backoffMs: 2_000,
  jobId: (p) => `${syncJobId(p)}-finish`,
  handle: async (payload, ctx) => {
    await finishDirectorySync(ctx.app, payload, {
      signal: ctx.signal,
      logger: ctx.logger.child({ serviceAccountId: payload.serviceAccountId }),
    });
  },
});
