import { pageResultEffects, syncDirectoryPage } from '../services/directory-sync.js';
import type { Handler } from './handler.js';

/**
 * `directory.sync-page`: one provider page of a directory sync — stores its entries, renames,
 * disconnects suspended mailboxes, and queues the next page (rooms, then users) or the finishing
 * step. Transient provider errors retry; a refusal naming the Service Account marks it broken instead.
 */
export const handleDirectorySyncPage: Handler<'directory.sync-page'> = async (payload, ctx) => {
  const logger = ctx.logger.child({ serviceAccountId: payload.serviceAccountId });
  const result = await syncDirectoryPage(ctx.app, payload, { signal: ctx.signal, logger });
  logger.debug(
    { outcome: result.outcome, kind: payload.kind, page: payload.page, ...result.stats },
    'directory page synced',
  );
  return pageResultEffects(result);
};
