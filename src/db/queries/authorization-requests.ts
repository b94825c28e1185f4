import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type AuthorizationRequestRow, authorizationRequests } from '../schema/authorization-requests.js';

export type NewAuthorizationRequest = typeof authorizationRequests.$inferInsert;

/**
 * Records a request's emails in the caller's transaction, skipping any whose `request_key` was
 * recorded less than `windowMs` ago (the same ask posted again, e.g. after a client timeout).
 * Requests of one Service Account are serialised by an advisory lock, so two identical posts at
 * once record it once. Returns the ids recorded.
 */
export async function insertAuthorizationRequests(
  tx: DbOrTx,
  serviceAccountId: string,
  rows: NewAuthorizationRequest[],
  windowMs: number,
): Promise<string[]> {
  if (rows.length === 0) {
    return [];
  }
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`authz:${serviceAccountId}`}))`);
  const recent = await tx
    .select({ key: authorizationRequests.requestKey })
    .from(authorizationRequests)
    .where(
      and(
        inArray(
          authorizationRequests.requestKey,
          rows.map((r) => r.requestKey),
        ),
        sql`${authorizationRequests.createdAt} > now() - ${windowMs} * interval '1 millisecond'`,
      ),
    );
  const seen = new Set(recent.map((r) => r.key));
  const fresh = rows.filter((r) => !seen.has(r.requestKey));
  if (fresh.length === 0) {
    return [];
  }
  const inserted = await tx
    .insert(authorizationRequests)
    .values(fresh)
    .returning({ id: authorizationRequests.id });
  return inserted.map((r) => r.id);
}

export async function findAuthorizationRequest(
  db: DbOrTx,
  id: string,
): Promise<AuthorizationRequestRow | undefined> {
  const [row] = await db.select().from(authorizationRequests).where(eq(authorizationRequests.id, id));
  return row;
}

/** The request's status, its row locked for the rest of the transaction (one outcome per request). */
export async function lockAuthorizationRequest(
  tx: DbOrTx,
  id: string,
): Promise<AuthorizationRequestRow['status'] | undefined> {
  const [row] = await tx
    .select({ status: authorizationRequests.status })
    .from(authorizationRequests)
    .where(eq(authorizationRequests.id, id))
    .for('update');
  return row?.status;
}

export async function markAuthorizationRequestDone(tx: DbOrTx, id: string): Promise<void> {
  await tx.update(authorizationRequests).set({ status: 'done' }).where(eq(authorizationRequests.id, id));
}

/**
 * Pending requests last touched before `before` (oldest first), touched now so the next look
 * leaves them alone for a while: for re-queuing work a Redis flush or a crash lost.
 */
export async function claimStalePendingRequests(db: DbOrTx, before: Date, limit: number): Promise<string[]> {
  const stale = db
    .select({ id: authorizationRequests.id })
    .from(authorizationRequests)
    .where(and(eq(authorizationRequests.status, 'pending'), lte(authorizationRequests.updatedAt, before)))
    .orderBy(asc(authorizationRequests.updatedAt))
    .limit(limit);
  const rows = await db
    .update(authorizationRequests)
    .set({ updatedAt: new Date() })
    .where(and(inArray(authorizationRequests.id, stale), eq(authorizationRequests.status, 'pending')))
    .returning({ id: authorizationRequests.id });
  return rows.map((r) => r.id);
}
