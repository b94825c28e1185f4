import { claimStalePendingRequests } from '../db/queries/authorization-requests.js';
import { hasPendingItems, pendingItemIds } from '../db/queries/run-items.js';
import { findStaleActiveRuns, touchRun } from '../db/queries/runs.js';
import { provisionBatches } from '../lib/provisioning.js';
import type { AppContext } from './context.js';
import { priorityForPage } from './provisioning-pipeline.js';

/**
 * A run with no progress for this long is looked at: its work that no live job covers is queued
 * again. Short, since a run merely waiting (a Retry-After, a backoff) has live jobs and gets nothing.
 */
export const STALE_RUN_MS = 30_000;
/**
 * An authorization request still pending this long after it was recorded (or last re-queued) may
 * have lost its job: unless a live job (waiting, delayed or running) covers it, it is queued again,
 * so a request merely waiting its turn is not run twice.
 */
export const STALE_AUTHORIZATION_MS = 30_000;

export type ReconcileReport = {
  runs: number;
  listPages: number;
  batches: number;
  finishes: number;
  authorizations: number;
};

/** The run work still queued (or running) in Redis, by run: what the reconciler must not queue again. */
type LiveRunWork = {
  starts: Set<string>;
  /** `<runId> <kind>` of every live directory page. */
  pages: Set<string>;
  /** Item ids of every live provisioning batch. */
  items: Set<string>;
};

const NOTHING_LIVE: LiveRunWork = { starts: new Set(), pages: new Set(), items: new Set() };
/** Time a step has between committing its items and queuing their batches (far more than it needs). */
const ENQUEUE_GRACE_MS = 10_000;

async function liveRunWork(app: AppContext): Promise<LiveRunWork> {
  const [starts, pages, batches] = await Promise.all([
    app.liveJobs('runs.start'),
    app.liveJobs('directory.list-page'),
    app.liveJobs('accounts.provision'),
  ]);
  return {
    starts: new Set(starts.map((s) => s.runId)),
    pages: new Set(pages.map((p) => `${p.runId} ${p.kind}`)),
    items: new Set(batches.flatMap((b) => b.itemIds)),
  };
}

/**
 * Postgres is the record; Redis only carries work in flight. After a worker was killed, Redis
 * flushed or jobs dropped, this finds runs without progress and authorization requests still
 * pending and queues their work again from Postgres. (Callbacks and notifications need nothing
 * here: the outbox is Postgres, claimed by lease.)
 *
 * A run without progress is often merely waiting (a 3-minute `Retry-After`, a backoff, a busy
 * queue), so run work is queued again only when no job that will still run covers it: the live
 * jobs are read from Redis first, and only a run step, directory page or pending item that none of
 * them covers is queued again — after a Redis flush, all of it; while a batch waits out a
 * `Retry-After`, none of it. What is queued again gets `round` = this minute (its job ids: the
 * deterministic id + `-r<minute>`), because a completed or failed job keeps its id for a while and
 * BullMQ ignores an add whose id exists. Authorization requests are treated alike.
 */
export async function reconcile(
  app: AppContext,
  opts: { staleRunMs?: number; staleAuthorizationMs?: number; enqueueGraceMs?: number; now?: number } = {},
): Promise<ReconcileReport> {
  const now = opts.now ?? Date.now();
  const report: ReconcileReport = { runs: 0, listPages: 0, batches: 0, finishes: 0, authorizations: 0 };
  const round = Math.floor(now / 60_000);
  const runs = await findStaleActiveRuns(app.db, new Date(now - (opts.staleRunMs ?? STALE_RUN_MS)), 100);
  // Read once, before the items: a batch that completes meanwhile has moved its items out of pending.
  const liveReadAt = Date.now();
  const live = runs.length > 0 ? await liveRunWork(app) : NOTHING_LIVE;
  for (const run of runs) {
    report.runs += 1;
    // Touch first so concurrent reconcilers and the next sweep leave this run alone for a while.
    await touchRun(app.db, run.id);
    const startLive = live.starts.has(run.id);
    if (run.status === 'queued') {
      if (!startLive) {
        await app.enqueue('runs.start', { runId: run.id }, { round });
      }
      continue;
    }
    let allListed = true;
    for (const kind of run.include) {
      const c = run.cursor[kind];
      if (!c) {
        allListed = false;
        if (!startLive) {
          await app.enqueue('runs.start', { runId: run.id }, { round });
        }
      } else if (!c.done) {
        allListed = false;
        if (!live.pages.has(`${run.id} ${kind}`)) {
          await app.enqueue(
            'directory.list-page',
            { runId: run.id, kind, page: c.pages },
            { round, priority: priorityForPage(c.pages) },
          );
          report.listPages += 1;
        }
      }
    }
    let after = '';
    for (;;) {
      // Items stored just before the live jobs were read may belong to a directory page that had
      // committed but not yet queued its batches: they are left to the next round.
      const ids = await pendingItemIds(app.db, run.id, after, 1000, {
        olderThanSecs: (Date.now() - liveReadAt + (opts.enqueueGraceMs ?? ENQUEUE_GRACE_MS)) / 1000,
      });
      const lost = ids.filter((id) => !live.items.has(id));
      for (const itemIds of provisionBatches(lost, run.verify)) {
        await app.enqueue('accounts.provision', { runId: run.id, itemIds }, { round, priority: 1 });
        report.batches += 1;
      }
      if (ids.length < 1000) {
        break;
      }
      after = ids[ids.length - 1] ?? after;
    }
    if (allListed && !(await hasPendingItems(app.db, run.id))) {
      await app.enqueue('runs.finish', { runId: run.id });
      report.finishes += 1;
    }
  }
  const requests = await claimStalePendingRequests(
    app.db,
    new Date(now - (opts.staleAuthorizationMs ?? STALE_AUTHORIZATION_MS)),
    5_000,
  );
  // A request whose job is still waiting or running is left to it. One whose job is gone, or ended
  // without deciding it (failed for good; a job whose data a Redis flush took mid-read fails as
  // "unknown"), is queued under this round's id: its own id may still be held by the ended job.
  const waiting =
    requests.length > 0
      ? new Set((await app.liveJobs('authorizations.process')).map((j) => j.authorizationRequestId))
      : new Set<string>();
  const lostRequests = requests.filter((id) => !waiting.has(id));
  await app.enqueueBulk(
    'authorizations.process',
    lostRequests.map((authorizationRequestId) => ({ authorizationRequestId })),
    { round },
  );
  report.authorizations = lostRequests.length;
  if (report.runs + report.authorizations > 0) {
    app.logger.info({ ...report }, 'reconciled lost queue work');
  }
  return report;
}
