import { z } from 'zod';
import { sweepDirectorySyncs } from '../services/directory-sync.js';
import { defineJob } from './define-job.js';

/**
 * Scheduled every SWEEP_INTERVAL_SECONDS: claims the active Service Accounts whose directory sync
 * is due (every DIRECTORY_SYNC_INTERVAL_SECONDS) and queues one `directory.sync` each. A failed
 * sweep is not retried hard: the next tick sweeps again.
 */
export const directorySyncSweep = defineJob({
  name: 'directory.sync-sweep',
  queue: 'maintenance',
  payload: z.object({}),
  attempts: 2,
  backoffMs: 1_000,
  handle: async (_payload, ctx) => {
    const result = await sweepDirectorySyncs(ctx.app, { signal: ctx.signal });
    ctx.logger.info(result, 'directory sync sweep finished');
  },
});
