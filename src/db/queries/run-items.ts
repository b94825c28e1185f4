import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { preparedFor } from '../prepared.js';
import type { ReasonCounts } from '../schema/provisioning-runs.js';
import { type RunItem, type RunItemStatus, runItems } from '../schema/run-items.js';
import { asTableRows, tableRows } from './json-rows.js';

export type NewRunItem = typeof runItems.$inferInsert;

/** Inserts items, skipping emails the run already has; returns the inserted rows. */
export async function insertRunItems(db: DbOrTx, rows: NewRunItem[]): Promise<RunItem[]> {
  if (rows.length === 0) {
    return [];
  }
  // A listed page's items in one JSON parameter (drizzle's multi-row insert builds one parameter per value).
  const source = tableRows(runItems, rows);
  if (!source) {
    return db
      .insert(runItems)
      .values(rows)
      .onConflictDoNothing({ target: [runItems.runId, runItems.emailLower] })
      .returning();
  }
  const inserted = await db.execute<Record<string, unknown>>(
    sql`insert into run_items ${source} on conflict (run_id, email_lower) do nothing returning *`,
  );
  return asTableRows(runItems, inserted);
}

/**
 * A batch's items: the ids as one array parameter, so the statement is built once whatever their
 * number. By primary key only (a generic plan given the run too may scan the run's index instead);
 * the run is checked on the rows.
 */
const itemsByIds = preparedFor((db) =>
  db
    .select()
    .from(runItems)
    .where(sql`${runItems.id} = any(${sql.placeholder('ids')}::text[])`)
    .prepare('find_run_items'),
);

export async function findItems(db: DbOrTx, runId: string, ids: string[]): Promise<RunItem[]> {
  if (ids.length === 0) {
    return [];
  }
  return (await itemsByIds(db).execute({ ids })).filter((item) => item.runId === runId);
}

/**
 * Moves items from `from` to `to` (only those still in `from`, so a job running twice changes
 * nothing the second time); returns the ids actually moved.
 */
export async function moveItems(
  db: DbOrTx,
  ids: string[],
  from: RunItemStatus,
  to: {
    status: RunItemStatus;
    errorKey?: string | null;
    errorDescription?: string | null;
    accountId?: string | null;
  },
): Promise<string[]> {
  if (ids.length === 0) {
    return [];
  }
  const rows = await db
    .update(runItems)
    .set({
      status: to.status,
      errorKey: to.errorKey ?? null,
      errorDescription: to.errorDescription ?? null,
      ...(to.accountId === undefined ? {} : { accountId: to.accountId }),
      attempts: sql`${runItems.attempts} + 1`,
      updatedAt: new Date(),
    })
    .where(and(inArray(runItems.id, ids), eq(runItems.status, from)))
    .returning({ id: runItems.id });
  return rows.map((r) => r.id);
}

/** A page of a run's items in id order, optionally of one status and reason. */
export async function pageItems(
  db: DbOrTx,
  runId: string,
  opts: {
    status?: RunItemStatus | undefined;
    errorKey?: string | undefined;
    after?: string | undefined;
    limit: number;
  },
): Promise<RunItem[]> {
  return db
    .select()
    .from(runItems)
    .where(
      and(
        eq(runItems.runId, runId),
        opts.status ? eq(runItems.status, opts.status) : undefined,
        opts.errorKey ? eq(runItems.errorKey, opts.errorKey) : undefined,
        opts.after ? gt(runItems.id, opts.after) : undefined,
      ),
    )
    .orderBy(asc(runItems.id))
    .limit(opts.limit);
}

/**
 * Whether any item of the run is still pending: one probe of the (run, status) index, however many
 * items the run has (a count would read every pending entry, thousands while a large run is under way).
 */
export async function hasPendingItems(db: DbOrTx, runId: string): Promise<boolean> {
  const [row] = await db.execute<{ pending: boolean }>(sql`
    select exists (select 1 from run_items where run_id = ${runId} and status = 'pending') as pending`);
  return row?.pending === true;
}

export type ReasonCount = { runId: string; status: string; errorKey: string; count: number };

/** A run's `reason_counts` as reason rows, most frequent first (then by reason, for a stable order). */
export function reasonsOfRun(runId: string, counts: ReasonCounts): ReasonCount[] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([key, count]) => {
      const at = key.indexOf(':');
      return { runId, status: key.slice(0, at), errorKey: key.slice(at + 1), count };
    })
    .sort(
      (a, b) => b.count - a.count || a.status.localeCompare(b.status) || a.errorKey.localeCompare(b.errorKey),
    );
}

/** Pending item ids of a run, in id order after `after` (for the reconciler). */
export async function pendingItemIds(
  db: DbOrTx,
  runId: string,
  after: string,
  limit: number,
  opts: { olderThanSecs?: number } = {},
): Promise<string[]> {
  const rows = await db
    .select({ id: runItems.id })
    .from(runItems)
    .where(
      and(
        eq(runItems.runId, runId),
        eq(runItems.status, 'pending'),
        gt(runItems.id, after),
        // Measured on the database's clock, so the caller's clock does not matter.
        opts.olderThanSecs === undefined
          ? undefined
          : sql`${runItems.createdAt} < now() - make_interval(secs => ${opts.olderThanSecs})`,
      ),
    )
    .orderBy(asc(runItems.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * Marks items provisioned with their Accounts, in one statement; only items still pending move.
 * Returns the ids that moved. The pairs go as two array parameters, so the statement text is the same
 * for every batch and is prepared once per connection (one round trip instead of two).
 */
export async function markProvisioned(
  db: DbOrTx,
  pairs: { itemId: string; accountId: string }[],
): Promise<string[]> {
  if (pairs.length === 0) {
    return [];
  }
  const rows = await db.execute<{ id: string }>(sql`
    update run_items set status = 'provisioned', account_id = v.account_id, error_key = null, error_description = null,
      attempts = run_items.attempts + 1, updated_at = now()
    from unnest(${sql.param(pairs.map((p) => p.itemId))}::text[],
                ${sql.param(pairs.map((p) => p.accountId))}::text[]) as v(id, account_id)
    where run_items.id = v.id and run_items.status = 'pending'
    returning run_items.id`);
  return [...rows].map((r) => r.id);
}

/**
 * Marks items failed, each with its own reason, in one statement (three array parameters, prepared as
 * markProvisioned is); only pending items move.
 */
export async function markFailed(
  db: DbOrTx,
  rows: { itemId: string; errorKey: string; errorDescription: string }[],
): Promise<string[]> {
  if (rows.length === 0) {
    return [];
  }
  const moved = await db.execute<{ id: string }>(sql`
    update run_items set status = 'failed', error_key = v.error_key, error_description = v.error_description,
      attempts = run_items.attempts + 1, updated_at = now()
    from unnest(${sql.param(rows.map((r) => r.itemId))}::text[],
                ${sql.param(rows.map((r) => r.errorKey))}::text[],
                ${sql.param(rows.map((r) => r.errorDescription))}::text[]) as v(id, error_key, error_description)
    where run_items.id = v.id and run_items.status = 'pending'
    returning run_items.id`);
  return [...moved].map((r) => r.id);
}
