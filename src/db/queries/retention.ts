import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { oneOf } from '../schema/columns.js';
import { ACTIVE_RUN_STATUSES } from '../schema/provisioning-runs.js';

/**
 * Deletes, in one statement, up to `limit` deliveries that ended well (delivered, or cancelled with
 * their Service Account) and were last touched before `cutoff`. Dead letters stay until someone
 * retries or deletes them. Returns how many rows went.
 */
export async function deleteFinishedDeliveries(db: DbOrTx, cutoff: Date, limit: number): Promise<number> {
  const rows = await db.execute<{ id: string }>(sql`
    delete from outbound_deliveries where id in (
      select id from outbound_deliveries
      where status in ('delivered', 'cancelled') and updated_at < ${cutoff.toISOString()}
      limit ${limit})
    returning id`);
  return rows.length;
}

/**
 * Deletes up to `limit` items of runs that finished before `cutoff` (the run row keeps its counts;
 * its item list is then empty). Items of active runs are never touched.
 */
export async function deleteItemsOfFinishedRuns(db: DbOrTx, cutoff: Date, limit: number): Promise<number> {
  const rows = await db.execute<{ id: string }>(sql`
    delete from run_items where id in (
      select i.id from run_items i join provisioning_runs r on r.id = i.run_id
      where r.status not in (${oneOf(ACTIVE_RUN_STATUSES)}) and r.finished_at < ${cutoff.toISOString()}
      limit ${limit})
    returning id`);
  return rows.length;
}

/** Deletes up to `limit` audit events recorded before `cutoff` (served by audit_events_created_idx). */
export async function deleteAuditEventsBefore(db: DbOrTx, cutoff: Date, limit: number): Promise<number> {
  const rows = await db.execute<{ id: string }>(sql`
    delete from audit_events where id in (
      select id from audit_events where created_at < ${cutoff.toISOString()} limit ${limit})
    returning id`);
  return rows.length;
}
