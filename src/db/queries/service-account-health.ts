import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { serviceAccounts } from '../schema/service-accounts.js';
import { claimDueServiceAccounts } from './service-accounts.js';

/**
 * The health state of Service Accounts: broken (with a reason, since when, and when to check again)
 * or active. Only the transitions live here; reading a Service Account is in service-accounts.ts.
 */

/**
 * Marks an active Service Account broken. Only the first caller wins (a concurrent check that saw
 * the same failure gets false), so the Profiles are paused once per breakage.
 */
export async function markServiceAccountBroken(
  db: DbOrTx,
  serviceAccountId: string,
  b: { reason: string; message: string; now: Date; nextHealthCheckAt: Date },
): Promise<boolean> {
  const rows = await db
    .update(serviceAccounts)
    .set({
      status: 'broken',
      brokenReason: b.reason,
      brokenSince: b.now,
      lastError: b.message.slice(0, 1000),
      failureCount: 1,
      nextHealthCheckAt: b.nextHealthCheckAt,
      updatedAt: b.now,
    })
    .where(and(eq(serviceAccounts.id, serviceAccountId), eq(serviceAccounts.status, 'active')))
    .returning({ id: serviceAccounts.id });
  return rows.length > 0;
}

/**
 * Claims up to `limit` broken Service Accounts whose health check is due (partial index
 * `service_accounts_broken_due_idx`), leasing them until `leaseUntil` like Profile checks. Returns
 * their ids.
 */
export async function claimDueHealthChecks(
  db: DbOrTx,
  opts: { now: Date; leaseUntil: Date; limit: number },
): Promise<string[]> {
  return claimDueServiceAccounts(db, { ...opts, status: 'broken', column: 'next_health_check_at' });
}

/** Still broken: count the failure and check again at `next`. Only while on the lease `leaseAt`. */
export async function recordHealthFailure(
  db: DbOrTx,
  serviceAccountId: string,
  leaseAt: Date,
  f: { reason: string; message: string; failureCount: number; next: Date },
): Promise<boolean> {
  return updateOnHealthLease(db, serviceAccountId, leaseAt, {
    brokenReason: f.reason,
    lastError: f.message.slice(0, 1000),
    failureCount: f.failureCount,
    nextHealthCheckAt: f.next,
  });
}

/** Works again: back to active. Only a broken Service Account on the lease `leaseAt` changes. */
export async function markServiceAccountHealthy(
  db: DbOrTx,
  serviceAccountId: string,
  leaseAt: Date,
): Promise<boolean> {
  return updateOnHealthLease(db, serviceAccountId, leaseAt, {
    status: 'active',
    brokenReason: null,
    brokenSince: null,
    lastError: null,
    failureCount: 0,
    nextHealthCheckAt: null,
  });
}

/** Applies `set` only to a broken Service Account still on the health-check lease `leaseAt`. */
async function updateOnHealthLease(
  db: DbOrTx,
  serviceAccountId: string,
  leaseAt: Date,
  set: Partial<typeof serviceAccounts.$inferInsert>,
): Promise<boolean> {
  const rows = await db
    .update(serviceAccounts)
    .set({ ...set, updatedAt: new Date() })
    .where(
      and(
        eq(serviceAccounts.id, serviceAccountId),
        eq(serviceAccounts.status, 'broken'),
        eq(serviceAccounts.nextHealthCheckAt, leaseAt),
      ),
    )
    .returning({ id: serviceAccounts.id });
  return rows.length > 0;
}

/**
 * Locks a Service Account's row for the rest of the transaction and returns its status: pausing
 * and resuming its Profiles hold this lock, so they never interleave.
 */
export async function lockServiceAccountStatus(
  tx: DbOrTx,
  serviceAccountId: string,
): Promise<{ status: string; brokenReason: string | null; brokenSince: Date | null } | undefined> {
  const [row] = await tx
    .select({
      status: serviceAccounts.status,
      brokenReason: serviceAccounts.brokenReason,
      brokenSince: serviceAccounts.brokenSince,
    })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, serviceAccountId))
    .for('update');
  return row;
}
