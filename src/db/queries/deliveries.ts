import { and, asc, eq, lte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type OutboundDelivery, outboundDeliveries } from '../schema/outbound-deliveries.js';

export type NewDelivery = typeof outboundDeliveries.$inferInsert;

/** Inserts a delivery unless one with this id exists; returns whether it was inserted. */
export async function insertDeliveryOnce(db: DbOrTx, row: NewDelivery): Promise<boolean> {
  const rows = await db
    .insert(outboundDeliveries)
    .values(row)
    .onConflictDoNothing()
    .returning({ id: outboundDeliveries.id });
  return rows.length > 0;
}

export async function findDelivery(db: DbOrTx, id: string): Promise<OutboundDelivery | undefined> {
  const [row] = await db.select().from(outboundDeliveries).where(eq(outboundDeliveries.id, id));
  return row;
}

/** Records one attempt's outcome. Only a pending delivery changes. */
export async function recordAttempt(
  db: DbOrTx,
  id: string,
  outcome:
    | { status: 'delivered'; statusCode: number }
    | { status: 'pending'; statusCode: number | null; error: string; nextAttemptAt: Date }
    | { status: 'dead'; statusCode: number | null; error: string },
): Promise<void> {
  const now = new Date();
  await db
    .update(outboundDeliveries)
    .set({
      attempts: sql`${outboundDeliveries.attempts} + 1`,
      status: outcome.status,
      lastStatusCode: outcome.statusCode,
      lastError: outcome.status === 'delivered' ? null : outcome.error,
      nextAttemptAt: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
      deliveredAt: outcome.status === 'delivered' ? now : null,
      deadAt: outcome.status === 'dead' ? now : null,
    })
    .where(and(eq(outboundDeliveries.id, id), eq(outboundDeliveries.status, 'pending')));
}

/** Pending deliveries whose next attempt is overdue by `graceMs` (their queue job was lost). */
export async function findOverdueDeliveries(
  db: DbOrTx,
  graceMs: number,
  limit: number,
): Promise<{ id: string; attempts: number }[]> {
  return db
    .select({ id: outboundDeliveries.id, attempts: outboundDeliveries.attempts })
    .from(outboundDeliveries)
    .where(
      and(
        eq(outboundDeliveries.status, 'pending'),
        lte(outboundDeliveries.nextAttemptAt, new Date(Date.now() - graceMs)),
      ),
    )
    .orderBy(asc(outboundDeliveries.nextAttemptAt))
    .limit(limit);
}

/** Puts a dead delivery back in the queue (admin retry). */
export async function reviveDelivery(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .update(outboundDeliveries)
    .set({ status: 'pending', deadAt: null, nextAttemptAt: new Date() })
    .where(and(eq(outboundDeliveries.id, id), eq(outboundDeliveries.status, 'dead')))
    .returning({ id: outboundDeliveries.id });
  return rows.length > 0;
}

/** Inserts many deliveries in one statement, skipping ids that exist; returns the inserted ids. */
export async function insertDeliveriesOnce(db: DbOrTx, rows: NewDelivery[]): Promise<string[]> {
  if (rows.length === 0) {
    return [];
  }
  const inserted = await db
    .insert(outboundDeliveries)
    .values(rows)
    .onConflictDoNothing()
    .returning({ id: outboundDeliveries.id });
  return inserted.map((r) => r.id);
}
