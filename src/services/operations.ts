import { deadDeliveries, runsWithFailures } from '../db/queries/admin.js';
import { reviveDelivery } from '../db/queries/deliveries.js';
import { findRun } from '../db/queries/runs.js';
import type { AppContext } from './context.js';
import { retryRun } from './provisioning.js';

/**
 * Operators' retries, shared by `/admin` and `ec failures --retry`: dead-lettered deliveries get one
 * more attempt each (if it fails they are dead again, visible as before), and the failed items of
 * runs are provisioned again (items failing for a lasting reason, e.g. a suspended user, fail again).
 */

/**
 * Puts one dead delivery back in the outbox, due now (a callback's re-send carries a fresh code);
 * false when it is not dead (any more).
 */
export async function retryDeadDelivery(app: AppContext, deliveryId: string): Promise<boolean> {
  return reviveDelivery(app.db, deliveryId);
}

/** Retries up to `limit` dead deliveries, newest first; returns how many were re-queued. */
export async function retryDeadDeliveries(app: AppContext, limit = 1_000): Promise<number> {
  let n = 0;
  for (const d of await deadDeliveries(app.db, limit)) {
    if (await retryDeadDelivery(app, d.id)) {
      n += 1;
    }
  }
  return n;
}

export type RunRetry = { runId: string; requeued: number };

/** Re-queues the failed items of the given runs (or of every run with failures). */
export async function retryFailedItems(app: AppContext, runIds?: string[]): Promise<RunRetry[]> {
  const runs = runIds
    ? (await Promise.all(runIds.map((id) => findRun(app.db, id)))).filter((r) => r !== undefined)
    : (await runsWithFailures(app.db, 1_000)).map((r) => r.run);
  const out: RunRetry[] = [];
  for (const run of runs) {
    if (run.failed === 0 || run.status === 'cancelled' || run.dryRun) {
      continue;
    }
    const { requeued } = await retryRun(app, run);
    out.push({ runId: run.id, requeued });
  }
  return out;
}
