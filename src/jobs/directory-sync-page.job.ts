import {
  applyPageResult,
  syncDirectoryPage,
  syncJobId,
  syncPageStepSchema,
} from '../services/directory-sync.js';
import { defineJob } from './define-job.js';

/**
 * One provider page of a directory sync: stores its entries, renames, disconnects suspended
 * mailboxes, and queues the next page (rooms, then users) or the finishing step. Transient
 * provider errors retry; a refusal naming the Service Account marks it broken instead.
 */
export const directorySyncPage = defineJob({
  name: 'directory.sync-page',
  queue: 'directory',
  payload: syncPageStepSchema,
  attempts: 10,
  backoffMs: 2_000,
  jobId: (p) => `${syncJobId(p)}-${p.kind}-${p.page}`,
  handle: async (payload, ctx) => {
    const logger = ctx.logger.child({ serviceAccountId: payload.serviceAccountId });
    const result = await syncDirectoryPage(ctx.app, payload, { signal: ctx.signal, logger });
    await applyPageResult(ctx.app, result);
    logger.debug(
      { outcome: result.outcome, kind: payload.kind, page: payload.page, ...result.stats },
      'directory page synced',
    );
  },
});
