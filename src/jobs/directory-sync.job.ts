import { startDirectorySync, syncClaimSchema, syncJobId } from '../services/directory-sync.js';
import { defineJob } from './define-job.js';

/** Starts one claimed directory sync of a Service Account (queued by the sweep): queues its first page. */
export const directorySync = defineJob({
  name: 'directory.sync',
  queue: 'directory',
  payload: syncClaimSchema,
  attempts: 5,
  backoffMs: 2_000,
  jobId: syncJobId,
  handle: async (payload, ctx) => {
    const first = await startDirectorySync(ctx.app, payload);
    if (first) {
      await ctx.app.enqueue('directory.sync-page', first);
    }
  },
});
