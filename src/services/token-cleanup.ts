import { deleteExpiredBatch } from '../db/queries/tokens.js';
import type { AppContext } from './context.js';

/**
 * Expired or revoked rows are kept this long before deletion, so a late refresh or a reused code is
 * still told "expired/revoked" precisely, and for audits. Default 7 days.
 */
export const TOKEN_CLEANUP_GRACE_SECS = 7 * 86_400;
/** Rows per delete statement. Default 5,000. */
export const TOKEN_CLEANUP_BATCH_SIZE = 5_000;
/** Batches per run; a larger backlog is finished by the next runs. Default 200 (a million rows). */
export const TOKEN_CLEANUP_MAX_BATCHES = 200;

export type CleanupOptions = { graceSecs?: number; batchSize?: number; maxBatches?: number };

/** `tokens.cleanup`: deletes authorization codes and tokens that expired (or were revoked) before the grace period. */
export async function cleanupExpiredTokens(
  app: Pick<AppContext, 'db'>,
  opts: CleanupOptions & { signal?: AbortSignal } = {},
): Promise<{ codes: number; tokens: number; batches: number }> {
  const cutoff = new Date(Date.now() - (opts.graceSecs ?? TOKEN_CLEANUP_GRACE_SECS) * 1000);
  const limit = opts.batchSize ?? TOKEN_CLEANUP_BATCH_SIZE;
  const total = { codes: 0, tokens: 0, batches: 0 };
  for (let i = 0; i < (opts.maxBatches ?? TOKEN_CLEANUP_MAX_BATCHES) && !opts.signal?.aborted; i++) {
    const deleted = await deleteExpiredBatch(app.db, cutoff, limit);
    total.codes += deleted.codes;
    total.tokens += deleted.tokens;
    total.batches += 1;
    if (deleted.codes < limit && deleted.tokens < limit) {
      break;
    }
  }
  return total;
}
