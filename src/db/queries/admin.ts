import { and, asc, desc, eq, gt, inArray, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { accounts } from '../schema/accounts.js';
import { applications } from '../schema/applications.js';
import { type OutboundDelivery, outboundDeliveries } from '../schema/outbound-deliveries.js';
import { profiles } from '../schema/profiles.js';
import { ACTIVE_RUN_STATUSES, type ProvisioningRun, provisioningRuns } from '../schema/provisioning-runs.js';
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

/** Runs with their Service Account's provider and domain, newest first. */
function runsWithServiceAccount(
  db: DbOrTx,
  where: SQL | undefined,
  limit: number,
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
    .where(where)
    .orderBy(desc(provisioningRuns.createdAt), desc(provisioningRuns.id))
    .limit(limit);
}

export async function recentRuns(
  db: DbOrTx,
  opts: { limit: number; runId?: string },
): Promise<RunWithServiceAccount[]> {
  return runsWithServiceAccount(db, opts.runId ? eq(provisioningRuns.id, opts.runId) : undefined, opts.limit);
}

/** Runs that have failed items right now (their counters say so), newest first. */
export async function runsWithFailures(db: DbOrTx, limit: number): Promise<RunWithServiceAccount[]> {
  return runsWithServiceAccount(db, gt(provisioningRuns.failed, 0), limit);
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
