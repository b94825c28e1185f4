import {
  deleteAuditEventsBefore,
  deleteFinishedDeliveries,
  deleteItemsOfFinishedRuns,
} from '../db/queries/retention.js';
import { deleteSelectionEmailsOfFinishedRuns } from '../db/queries/selection-emails.js';
import type { AppContext } from './context.js';

/** Rows per delete statement. Default 5,000. */
export const RETENTION_BATCH_SIZE = 5_000;
/** Batches per kind and run; a larger backlog is finished by the next runs. Default 200. */
export const RETENTION_MAX_BATCHES = 200;

export type RetentionReport = { deliveries: number; runItems: number; auditEvents: number };

/**
 * `records.retention`: deletes what is only history once old enough — delivered (or cancelled)
 * callbacks and notifications and the items of finished runs after `retention.days`
 * (RETENTION_DAYS), audit events after `retention.auditDays` (AUDIT_RETENTION_DAYS). Runs, Accounts,
 * dead letters and pending work are never deleted. Bounded batches, so a backlog never holds locks
 * for long.
 */
export async function deleteOldRecords(
  app: Pick<AppContext, 'db' | 'config'>,
  opts: { now?: number; batchSize?: number; maxBatches?: number; signal?: AbortSignal } = {},
): Promise<RetentionReport> {
  const now = opts.now ?? Date.now();
  const dayMs = 86_400_000;
  const cutoff = new Date(now - app.config.retention.days * dayMs);
  const auditCutoff = new Date(now - app.config.retention.auditDays * dayMs);
  const limit = opts.batchSize ?? RETENTION_BATCH_SIZE;
  const drain = async (batch: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (let i = 0; i < (opts.maxBatches ?? RETENTION_MAX_BATCHES) && !opts.signal?.aborted; i++) {
      const n = await batch();
      total += n;
      if (n < limit) {
        break;
      }
    }
    return total;
  };
  const deliveries = await drain(() => deleteFinishedDeliveries(app.db, cutoff, limit));
  const runItems = await drain(() => deleteItemsOfFinishedRuns(app.db, cutoff, limit));
  // The explicit emails of those runs' selections go with their items (not reported: the items are
  // the run's history; the emails were only needed while it listed).
  await drain(() => deleteSelectionEmailsOfFinishedRuns(app.db, cutoff, limit));
  const auditEvents = await drain(() => deleteAuditEventsBefore(app.db, auditCutoff, limit));
  return { deliveries, runItems, auditEvents };
}
