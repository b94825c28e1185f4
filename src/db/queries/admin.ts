import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { accounts } from '../schema/accounts.js';
import { applications } from '../schema/applications.js';
import { type OutboundDelivery, outboundDeliveries } from '../schema/outbound-deliveries.js';
import { profiles } from '../schema/profiles.js';
import { ACTIVE_RUN_STATUSES, type ProvisioningRun, provisioningRuns } from '../schema/provisioning-runs.js';
import { type RunItem, runItems } from '../schema/run-items.js';
import { type ServiceAccount, serviceAccounts } from '../schema/service-accounts.js';

/**
 * Read queries of the operations views (`/admin`, `ec failures`). Every list is bounded; the grouped
 * ones read through existing indexes (run items by run and status, dead deliveries by dead_at,
 * Profiles by Service Account and state).
 */

export type RunWithServiceAccount = {
  run: ProvisioningRun;
  serviceAccount: Pick<ServiceAccount, 'id' | 'provider' | 'domain'>;
};

export async function recentRuns(
  db: DbOrTx,
  opts: { limit: number; runId?: string },
): Promise<RunWithServiceAccount[]> {
  return db
    .select({
      run: provisioningRuns,
      serviceAccount: {
        id: serviceAccounts.id,
        provider: serviceAccounts.provider,
        domain: serviceAccounts.domain,
      },
    })
    .from(provisioningRuns)
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, provisioningRuns.serviceAccountId))
    .where(opts.runId ? eq(provisioningRuns.id, opts.runId) : undefined)
    .orderBy(desc(provisioningRuns.createdAt), desc(provisioningRuns.id))
    .limit(opts.limit);
}

export type ReasonCount = { runId: string; status: string; errorKey: string; count: number };

/** Failed and skipped items by reason for several runs in one query. */
export async function reasonsOfRuns(db: DbOrTx, runIds: string[]): Promise<ReasonCount[]> {
  if (runIds.length === 0) {
    return [];
  }
  return db
    .select({
      runId: runItems.runId,
      status: runItems.status,
      errorKey: sql<string>`coalesce(${runItems.errorKey}, 'unknown')`,
      count: sql<number>`count(*)::int`,
    })
    .from(runItems)
    .where(and(inArray(runItems.runId, runIds), inArray(runItems.status, ['failed', 'skipped'])))
    .groupBy(runItems.runId, runItems.status, sql`3`)
    .orderBy(desc(sql`4`));
}

/** Runs that have failed items right now (their counters say so), newest first. */
export async function runsWithFailures(db: DbOrTx, limit: number): Promise<RunWithServiceAccount[]> {
  return db
    .select({
      run: provisioningRuns,
      serviceAccount: {
        id: serviceAccounts.id,
        provider: serviceAccounts.provider,
        domain: serviceAccounts.domain,
      },
    })
    .from(provisioningRuns)
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, provisioningRuns.serviceAccountId))
    .where(gt(provisioningRuns.failed, 0))
    .orderBy(desc(provisioningRuns.createdAt))
    .limit(limit);
}

/** Some items of a run in one status (and reason), for the run page. */
export async function itemsOfRun(
  db: DbOrTx,
  runId: string,
  opts: { status: RunItem['status']; errorKey?: string | undefined; limit: number },
): Promise<RunItem[]> {
  return db
    .select()
    .from(runItems)
    .where(
      and(
        eq(runItems.runId, runId),
        eq(runItems.status, opts.status),
        opts.errorKey ? eq(runItems.errorKey, opts.errorKey) : undefined,
      ),
    )
    .orderBy(asc(runItems.id))
    .limit(opts.limit);
}

export type ServiceAccountHealth = {
  serviceAccount: ServiceAccount;
  connected: number;
  disconnected: number;
};

/** Every Service Account that is not revoked, broken ones first, with its Profile counts. */
export async function serviceAccountsHealth(db: DbOrTx, limit: number): Promise<ServiceAccountHealth[]> {
  const list = await db
    .select()
    .from(serviceAccounts)
    .where(sql`${serviceAccounts.status} <> 'revoked'`)
    .orderBy(sql`${serviceAccounts.status} = 'broken' desc`, desc(serviceAccounts.createdAt))
    .limit(limit);
  if (list.length === 0) {
    return [];
  }
  const counts = await db
    .select({
      id: profiles.serviceAccountId,
      connected: sql<number>`count(*) filter (where ${profiles.connected})::int`,
      disconnected: sql<number>`count(*) filter (where not ${profiles.connected})::int`,
    })
    .from(profiles)
    .where(
      inArray(
        profiles.serviceAccountId,
        list.map((s) => s.id),
      ),
    )
    .groupBy(profiles.serviceAccountId);
  const byId = new Map(counts.map((c) => [c.id, c]));
  return list.map((sa) => ({
    serviceAccount: sa,
    connected: byId.get(sa.id)?.connected ?? 0,
    disconnected: byId.get(sa.id)?.disconnected ?? 0,
  }));
}

export type DisconnectedGroup = {
  reason: string;
  serviceAccountId: string;
  domain: string;
  count: number;
  /** The soonest re-check (null: never re-checked, e.g. revoked). */
  nextCheckAt: Date | null;
  lastDisconnectedAt: Date | null;
};

/** Disconnected Profiles grouped by reason and Service Account (revoked Accounts left out). */
export async function disconnectedGroups(db: DbOrTx, limit: number): Promise<DisconnectedGroup[]> {
  const rows = await db
    .select({
      reason: sql<string>`coalesce(${profiles.disconnectReason}, 'unknown')`,
      serviceAccountId: profiles.serviceAccountId,
      domain: serviceAccounts.domain,
      count: sql<number>`count(*)::int`,
      nextCheckAt: sql<string | null>`min(${profiles.nextCheckAt})`,
      lastDisconnectedAt: sql<string | null>`max(${profiles.disconnectedAt})`,
    })
    .from(profiles)
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, profiles.serviceAccountId))
    .innerJoin(accounts, eq(accounts.id, profiles.accountId))
    .where(and(eq(profiles.connected, false), eq(accounts.status, 'active')))
    .groupBy(sql`1`, profiles.serviceAccountId, serviceAccounts.domain)
    .orderBy(desc(sql`4`))
    .limit(limit);
  const date = (v: string | Date | null) => (v === null ? null : new Date(v));
  return rows.map((r) => ({
    ...r,
    nextCheckAt: date(r.nextCheckAt),
    lastDisconnectedAt: date(r.lastDisconnectedAt),
  }));
}

export type DisconnectedProfile = {
  profileId: string;
  email: string;
  reason: string;
  disconnectedAt: Date | null;
  nextCheckAt: Date | null;
  failureCount: number;
};

export async function disconnectedProfiles(
  db: DbOrTx,
  opts: { reason?: string | undefined; limit: number },
): Promise<DisconnectedProfile[]> {
  return db
    .select({
      profileId: profiles.id,
      email: accounts.email,
      reason: sql<string>`coalesce(${profiles.disconnectReason}, 'unknown')`,
      disconnectedAt: profiles.disconnectedAt,
      nextCheckAt: profiles.nextCheckAt,
      failureCount: profiles.failureCount,
    })
    .from(profiles)
    .innerJoin(accounts, eq(accounts.id, profiles.accountId))
    .where(
      and(
        eq(profiles.connected, false),
        eq(accounts.status, 'active'),
        opts.reason ? eq(profiles.disconnectReason, opts.reason) : undefined,
      ),
    )
    .orderBy(asc(profiles.nextCheckAt))
    .limit(opts.limit);
}

/** Dead-lettered deliveries, newest first. */
export async function deadDeliveries(db: DbOrTx, limit: number): Promise<OutboundDelivery[]> {
  return db
    .select()
    .from(outboundDeliveries)
    .where(eq(outboundDeliveries.status, 'dead'))
    .orderBy(desc(outboundDeliveries.deadAt))
    .limit(limit);
}

export async function countDeadDeliveries(db: DbOrTx): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(outboundDeliveries)
    .where(eq(outboundDeliveries.status, 'dead'));
  return row?.n ?? 0;
}

/** Unfinished runs of the Applications with this name (the demo cancels an earlier demo's). */
export async function activeDemoRuns(db: DbOrTx, applicationName: string): Promise<ProvisioningRun[]> {
  const rows = await db
    .select({ run: provisioningRuns })
    .from(provisioningRuns)
    .innerJoin(applications, eq(applications.id, provisioningRuns.applicationId))
    .where(
      and(eq(applications.name, applicationName), inArray(provisioningRuns.status, [...ACTIVE_RUN_STATUSES])),
    );
  return rows.map((r) => r.run);
}
