import {
  countDeadDeliveries,
  type DisconnectedGroup,
  type DisconnectedProfile,
  deadDeliveries,
  disconnectedGroups,
  disconnectedProfiles,
  type RunWithServiceAccount,
  recentRuns,
  runsWithFailures,
  type ServiceAccountHealth,
  serviceAccountsHealth,
} from '../db/queries/admin.js';
import { reviveDelivery } from '../db/queries/deliveries.js';
import { pingDatabase } from '../db/queries/health.js';
import { pageItems } from '../db/queries/run-items.js';
import { findRun } from '../db/queries/runs.js';
import type { OutboundDelivery } from '../db/schema/outbound-deliveries.js';
import type { ProvisioningRun } from '../db/schema/provisioning-runs.js';
import type { RunItem } from '../db/schema/run-items.js';
import type { AppContext } from './context.js';
import { retryRun } from './provisioning.js';

export type {
  DisconnectedGroup,
  DisconnectedProfile,
  OutboundDelivery,
  RunItem,
  RunWithServiceAccount,
  ServiceAccountHealth,
};

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

/*
 * What the dashboard (/admin) and the ops commands read: plain domain values, rendered by their callers.
 */

/** Recent runs (or the one `runId`) with their Service Account, newest first. */
export function recentRunsWithServiceAccounts(
  app: AppContext,
  opts: { limit: number; runId?: string },
): Promise<RunWithServiceAccount[]> {
  return recentRuns(app.db, opts);
}

/** One run by id, whoever owns it (operators see every Application's). */
export function findAnyRun(app: AppContext, runId: string): Promise<ProvisioningRun | undefined> {
  return findRun(app.db, runId);
}

/** A run's failed items (optionally for one reason), first `limit`. */
export async function failedItemsOfRun(
  app: AppContext,
  runId: string,
  opts: { reason?: string | undefined; limit: number },
): Promise<RunItem[]> {
  return pageItems(app.db, runId, { status: 'failed', errorKey: opts.reason, limit: opts.limit });
}

/** Service Accounts with their Profile counts, broken ones first. */
export function serviceAccountsWithHealth(app: AppContext, limit: number): Promise<ServiceAccountHealth[]> {
  return serviceAccountsHealth(app.db, limit);
}

/** Disconnected Profiles grouped by reason. */
export function disconnectedProfileGroups(app: AppContext, limit: number): Promise<DisconnectedGroup[]> {
  return disconnectedGroups(app.db, limit);
}

/** Disconnected Profiles (optionally for one reason), soonest re-check first. */
export function listDisconnectedProfiles(
  app: AppContext,
  opts: { reason?: string | undefined; limit: number },
): Promise<DisconnectedProfile[]> {
  return disconnectedProfiles(app.db, opts);
}

/** Dead-lettered deliveries, newest first, and how many there are in all. */
export async function deadLetters(
  app: AppContext,
  limit: number,
): Promise<{ deliveries: OutboundDelivery[]; total: number }> {
  const [deliveries, total] = await Promise.all([deadDeliveries(app.db, limit), countDeadDeliveries(app.db)]);
  return { deliveries, total };
}

/** How long each readiness check may take: a probe must get its answer, not hang with a dead Redis. */
export const READINESS_TIMEOUT_MS = 1_000;

/**
 * Readiness: for each of Postgres and Redis, `ok`, `unavailable` (it answered with an error) or
 * `timeout` (no answer within READINESS_TIMEOUT_MS: the shared Redis connection queues commands
 * while Redis is away). The driver's message is logged, never returned: probes are unauthenticated.
 */
export async function readiness(app: AppContext): Promise<{ postgres: string; redis: string }> {
  const check = async (name: string, ping: () => Promise<unknown>): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), READINESS_TIMEOUT_MS);
    });
    const answer = ping().then(
      () => 'ok' as const,
      (err: unknown) => {
        app.logger.warn({ check: name, err: err instanceof Error ? err.message : String(err) }, 'not ready');
        return 'unavailable' as const;
      },
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const [postgres, redis] = await Promise.all([
    check('postgres', () => pingDatabase(app.db)),
    check('redis', () => app.redis().ping()),
  ]);
  return { postgres, redis };
}
