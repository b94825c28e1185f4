import { claimStalePendingRequests } from '../db/queries/authorization-requests.js';
import { countPending, pendingItemIds } from '../db/queries/run-items.js';
import { findStaleActiveRuns, touchRun } from '../db/queries/runs.js';
import { PROVISION_BATCH } from '../lib/provisioning.js';
import type { AppContext } from './context.js';
import { priorityForPage } from './provisioning-pipeline.js';

/** A run with no progress for this long is assumed to have lost its queue work. */
export const STALE_RUN_MS = 120_000;
/**
 * An authorization request still pending this long after it was recorded (or last re-queued) may
 * have lost its job: it is queued again under its own job id, which BullMQ ignores while the job
 * still exists, so a request merely waiting its turn is not run twice.
 */
export const STALE_AUTHORIZATION_MS = 30_000;

export type ReconcileReport = {
  runs: number;
  listPages: number;
  batches: number;
  finishes: number;
  authorizations: number;
};

/**
 * Postgres is the record; Redis only carries work in flight. After a worker was killed, Redis
 * flushed or jobs dropped, this finds runs without progress and authorization requests still
 * pending and queues their work again from Postgres. (Callbacks and notifications need nothing
 * here: the outbox is Postgres, claimed by lease.) Every job is idempotent, so re-queuing work that was in fact
 * still queued costs a little time and nothing else. Run work is queued again in `round` = this
 * minute (its job ids: the deterministic id + `-r<minute>`), since the first job may still exist
 * (stalled, not lost); authorization requests reuse their own id, which is safe: a request's job
 * that still exists is merely waiting its turn.
 */
export async function reconcile(
  app: AppContext,
  opts: { staleRunMs?: number; staleAuthorizationMs?: number; now?: number } = {},
): Promise<ReconcileReport> {
  const now = opts.now ?? Date.now();
  const report: ReconcileReport = { runs: 0, listPages: 0, batches: 0, finishes: 0, authorizations: 0 };
  const round = Math.floor(now / 60_000);
  const runs = await findStaleActiveRuns(app.db, new Date(now - (opts.staleRunMs ?? STALE_RUN_MS)), 100);
  for (const run of runs) {
    report.runs += 1;
    // Touch first so concurrent reconcilers and the next sweep leave this run alone for a while.
    await touchRun(app.db, run.id);
    if (run.status === 'queued') {
      await app.enqueue('runs.start', { runId: run.id }, { round });
      continue;
    }
    let allListed = true;
    for (const kind of run.include) {
      const c = run.cursor[kind];
      if (!c) {
        allListed = false;
        await app.enqueue('runs.start', { runId: run.id }, { round });
      } else if (!c.done) {
        allListed = false;
        await app.enqueue(
          'directory.list-page',
          { runId: run.id, kind, page: c.pages },
          { round, priority: priorityForPage(c.pages) },
        );
        report.listPages += 1;
      }
    }
    let after = '';
    for (;;) {
      const ids = await pendingItemIds(app.db, run.id, after, 1000);
      for (let i = 0; i < ids.length; i += PROVISION_BATCH) {
        const itemIds = ids.slice(i, i + PROVISION_BATCH);
        await app.enqueue('accounts.provision', { runId: run.id, itemIds }, { round, priority: 1 });
        report.batches += 1;
      }
      if (ids.length < 1000) {
        break;
      }
      after = ids[ids.length - 1] ?? after;
    }
    if (allListed && (await countPending(app.db, run.id)) === 0) {
      await app.enqueue('runs.finish', { runId: run.id });
      report.finishes += 1;
    }
  }
  const requests = await claimStalePendingRequests(
    app.db,
    new Date(now - (opts.staleAuthorizationMs ?? STALE_AUTHORIZATION_MS)),
    5_000,
  );
  await app.enqueueBulk(
    'authorizations.process',
    requests.map((authorizationRequestId) => ({ authorizationRequestId })),
  );
  report.authorizations = requests.length;
  if (report.runs + report.authorizations > 0) {
    app.logger.info({ ...report }, 'reconciled lost queue work');
  }
  return report;
}
