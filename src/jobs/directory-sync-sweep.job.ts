import { sweepDirectorySyncs } from '../services/directory-sync.js';
import type { Handler } from './handler.js';

/**
 * `directory.sync-sweep`, every SWEEP_INTERVAL_SECONDS: claims the active Service Accounts whose
 * directory sync is due (every DIRECTORY_SYNC_INTERVAL_SECONDS) and queues one `directory.sync`
 * each. A failed sweep is not retried hard: the next tick sweeps again.
 */
export const handleDirectorySyncSweep: Handler<'directory.sync-sweep'> = async (_payload, ctx) => {
  const result = await sweepDirectorySyncs(ctx.app, { signal: ctx.signal });
  ctx.logger.info(result, 'directory sync sweep finished');
};
