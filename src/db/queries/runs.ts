import { and, asc, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { accounts } from '../schema/accounts.js';
import { directoryEntries } from '../schema/directory-entries.js';
import { profiles } from '../schema/profiles.js';
import {
  ACTIVE_RUN_STATUSES,
  type ProvisioningRun,
  provisioningRuns,
  type RunCursor,
  type RunInclude,
} from '../schema/provisioning-runs.js';
import { type RunItem, type RunItemStatus, runItems } from '../schema/run-items.js';

export type NewRun = typeof provisioningRuns.$inferInsert;

export async function insertRun(db: DbOrTx, row: NewRun): Promise<ProvisioningRun> {
  const [created] = await db.insert(provisioningRuns).values(row).returning();
  if (!created) {
    throw new Error('insert into provisioning_runs returned nothing');
  }
  return created;
}

export async function findRun(db: DbOrTx, id: string): Promise<ProvisioningRun | undefined> {
  const [row] = await db.select().from(provisioningRuns).where(eq(provisioningRuns.id, id));
  return row;
}

/** The run, locked for the rest of the transaction (serialises cursor and status changes). */
export async function lockRun(tx: DbOrTx, id: string): Promise<ProvisioningRun | undefined> {
  const [row] = await tx.select().from(provisioningRuns).where(eq(provisioningRuns.id, id)).for('update');
  return row;
}

export async function listRuns(
  db: DbOrTx,
  filter: { serviceAccountId?: string; limit: number },
): Promise<ProvisioningRun[]> {
  return db
    .select()
    .from(provisioningRuns)
    .where(
      filter.serviceAccountId ? eq(provisioningRuns.serviceAccountId, filter.serviceAccountId) : undefined,
    )
    .orderBy(desc(provisioningRuns.createdAt), desc(provisioningRuns.id))
    .limit(filter.limit);
}

export type RunPatch = Partial<Pick<NewRun, 'status' | 'startedAt' | 'finishedAt' | 'error' | 'cursor'>>;

export async function updateRun(db: DbOrTx, id: string, patch: RunPatch): Promise<void> {
  await db.update(provisioningRuns).set(patch).where(eq(provisioningRuns.id, id));
}

/** Adds to the run's counters (in the same transaction as the item changes they count). */
export async function addRunCounts(
  db: DbOrTx,
  id: string,
  delta: Partial<Record<'listed' | 'provisioned' | 'skipped' | 'failed', number>>,
): Promise<void> {
  const set: Record<string, unknown> = { updatedAt: new Date() };
  for (const [k, v] of Object.entries(delta)) {
    if (v) {
      const col = provisioningRuns[k as 'listed'];
      set[k] = sql`${col} + ${v}`;
    }
  }
  await db.update(provisioningRuns).set(set).where(eq(provisioningRuns.id, id));
}

export async function setRunCursor(db: DbOrTx, id: string, cursor: RunCursor): Promise<void> {
  await db.update(provisioningRuns).set({ cursor, updatedAt: new Date() }).where(eq(provisioningRuns.id, id));
}

export type NewRunItem = typeof runItems.$inferInsert;

/** Inserts items, skipping emails the run already has; returns the inserted rows. */
export async function insertRunItems(db: DbOrTx, rows: NewRunItem[]): Promise<RunItem[]> {
  if (rows.length === 0) {
    return [];
  }
  return db
    .insert(runItems)
    .values(rows)
    .onConflictDoNothing({ target: [runItems.runId, runItems.emailLower] })
    .returning();
}

export async function findItems(db: DbOrTx, runId: string, ids: string[]): Promise<RunItem[]> {
  if (ids.length === 0) {
    return [];
  }
  return db
    .select()
    .from(runItems)
    .where(and(eq(runItems.runId, runId), inArray(runItems.id, ids)));
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

export async function countPending(db: DbOrTx, runId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(runItems)
    .where(and(eq(runItems.runId, runId), eq(runItems.status, 'pending')));
  return row?.n ?? 0;
}

export type ReasonCount = { runId: string; status: string; errorKey: string; count: number };

/** Failed and skipped items by reason for several runs in one query, most frequent first. */
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

export async function failureReasons(db: DbOrTx, runId: string): Promise<ReasonCount[]> {
  return reasonsOfRuns(db, [runId]);
}

/** Active runs with no progress since `staleBefore` (their queue work may have vanished). */
export async function findStaleActiveRuns(
  db: DbOrTx,
  staleBefore: Date,
  limit: number,
): Promise<ProvisioningRun[]> {
  return db
    .select()
    .from(provisioningRuns)
    .where(
      and(
        inArray(provisioningRuns.status, [...ACTIVE_RUN_STATUSES]),
        lt(provisioningRuns.updatedAt, staleBefore),
      ),
    )
    .orderBy(asc(provisioningRuns.updatedAt))
    .limit(limit);
}

export async function touchRun(db: DbOrTx, id: string): Promise<void> {
  await db.update(provisioningRuns).set({ updatedAt: new Date() }).where(eq(provisioningRuns.id, id));
}

export type EntryInput = typeof directoryEntries.$inferInsert;

/** Upserts a page of directory entries; returns id and email_lower of each. */
export async function upsertDirectoryEntries(
  db: DbOrTx,
  rows: EntryInput[],
): Promise<{ id: string; emailLower: string }[]> {
  if (rows.length === 0) {
    return [];
  }
  return db
    .insert(directoryEntries)
    .values(rows)
    .onConflictDoUpdate({
      target: [directoryEntries.serviceAccountId, directoryEntries.emailLower],
      set: {
        kind: sql`excluded.kind`,
        email: sql`excluded.email`,
        providerId: sql`excluded.provider_id`,
        name: sql`excluded.name`,
        suspended: sql`excluded.suspended`,
        hasMailbox: sql`excluded.has_mailbox`,
        capacity: sql`excluded.capacity`,
        building: sql`excluded.building`,
        floor: sql`excluded.floor`,
        resourceType: sql`excluded.resource_type`,
        lastSeenAt: sql`excluded.last_seen_at`,
        removedAt: null,
        updatedAt: new Date(),
      },
    })
    .returning({ id: directoryEntries.id, emailLower: directoryEntries.emailLower });
}

export async function findEntries(db: DbOrTx, ids: string[]) {
  if (ids.length === 0) {
    return [];
  }
  return db.select().from(directoryEntries).where(inArray(directoryEntries.id, ids));
}

/** Lower-cased emails among `emails` that already have an active Account with a connected Profile. */
export async function alreadyProvisioned(
  db: DbOrTx,
  serviceAccountId: string,
  emails: string[],
): Promise<Set<string>> {
  if (emails.length === 0) {
    return new Set();
  }
  const rows = await db
    .select({ emailLower: accounts.emailLower })
    .from(accounts)
    .innerJoin(profiles, eq(profiles.accountId, accounts.id))
    .where(
      and(
        eq(accounts.serviceAccountId, serviceAccountId),
        eq(accounts.status, 'active'),
        eq(profiles.connected, true),
        inArray(accounts.emailLower, emails),
      ),
    );
  return new Set(rows.map((r) => r.emailLower));
}

/** Pending item ids of a run, in id order after `after` (for the reconciler). */
export async function pendingItemIds(
  db: DbOrTx,
  runId: string,
  after: string,
  limit: number,
): Promise<string[]> {
  const rows = await db
    .select({ id: runItems.id })
    .from(runItems)
    .where(and(eq(runItems.runId, runId), eq(runItems.status, 'pending'), gt(runItems.id, after)))
    .orderBy(asc(runItems.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * Marks items provisioned with their Accounts, in one statement; only items still pending move.
 * Returns the ids that moved.
 */
export async function markProvisioned(
  db: DbOrTx,
  pairs: { itemId: string; accountId: string }[],
): Promise<string[]> {
  if (pairs.length === 0) {
    return [];
  }
  const values = sql.join(
    pairs.map((p) => sql`(${p.itemId}, ${p.accountId})`),
    sql`, `,
  );
  const rows = await db.execute<{ id: string }>(sql`
    update run_items set status = 'provisioned', account_id = v.account_id, error_key = null, error_description = null,
      attempts = run_items.attempts + 1, updated_at = now()
    from (values ${values}) as v(id, account_id)
    where run_items.id = v.id and run_items.status = 'pending'
    returning run_items.id`);
  return [...rows].map((r) => r.id);
}

/** Marks items failed, each with its own reason, in one statement; only pending items move. */
export async function markFailed(
  db: DbOrTx,
  rows: { itemId: string; errorKey: string; errorDescription: string }[],
): Promise<string[]> {
  if (rows.length === 0) {
    return [];
  }
  const values = sql.join(
    rows.map((r) => sql`(${r.itemId}, ${r.errorKey}, ${r.errorDescription})`),
    sql`, `,
  );
  const moved = await db.execute<{ id: string }>(sql`
    update run_items set status = 'failed', error_key = v.error_key, error_description = v.error_description,
      attempts = run_items.attempts + 1, updated_at = now()
    from (values ${values}) as v(id, error_key, error_description)
    where run_items.id = v.id and run_items.status = 'pending'
    returning run_items.id`);
  return [...moved].map((r) => r.id);
}

/**
 * Adds to the counts of a run that is still active; false when it no longer is (cancelled), so the
 * caller rolls its batch back. The run row is locked from here to commit: keep it the last statement.
 */
export async function addRunCountsIfActive(
  db: DbOrTx,
  id: string,
  delta: Partial<Record<'listed' | 'provisioned' | 'skipped' | 'failed', number>>,
): Promise<boolean> {
  const rows = await db.execute<{ id: string }>(sql`
    update provisioning_runs set
      listed = listed + ${delta.listed ?? 0}, provisioned = provisioned + ${delta.provisioned ?? 0},
      skipped = skipped + ${delta.skipped ?? 0}, failed = failed + ${delta.failed ?? 0}, updated_at = now()
    where id = ${id} and status in ('queued', 'listing', 'provisioning')
    returning id`);
  return rows.length > 0;
}

/**
 * Records a listed page: counts, and this kind's cursor — only if the cursor still points at
 * `page` (so a duplicate job changes nothing) and the run is active. Moves the run from listing to
 * provisioning when every kind is listed. Returns the new cursor, or undefined when nothing changed.
 */
export async function recordListedPage(
  db: DbOrTx,
  id: string,
  kind: string,
  page: number,
  next: { pageToken: string | null; done: boolean; pages: number },
  delta: { listed: number; skipped: number },
): Promise<RunCursor | undefined> {
  const rows = await db.execute<{ cursor: RunCursor; include: string[] }>(sql`
    update provisioning_runs set
      cursor = jsonb_set(cursor, ${`{${kind}}`}::text[], ${JSON.stringify(next)}::jsonb),
      listed = listed + ${delta.listed}, skipped = skipped + ${delta.skipped}, updated_at = now()
    where id = ${id} and status in ('queued', 'listing', 'provisioning')
      and coalesce((cursor -> ${kind} ->> 'pages')::int, 0) = ${page}
      and coalesce((cursor -> ${kind} ->> 'done')::boolean, false) = false
    returning cursor, include`);
  const row = rows[0];
  if (!row) {
    return undefined;
  }
  if (row.include.every((k) => row.cursor[k as RunInclude]?.done)) {
    await db.execute(
      sql`update provisioning_runs set status = 'provisioning' where id = ${id} and status = 'listing'`,
    );
  }
  return row.cursor;
}

/** Cancels every active run of a Service Account (it was revoked); returns their ids. */
export async function cancelActiveRunsOf(db: DbOrTx, serviceAccountId: string): Promise<string[]> {
  const rows = await db
    .update(provisioningRuns)
    .set({ status: 'cancelled', finishedAt: new Date(), updatedAt: new Date() })
    .where(
      and(
        eq(provisioningRuns.serviceAccountId, serviceAccountId),
        inArray(provisioningRuns.status, [...ACTIVE_RUN_STATUSES]),
      ),
    )
    .returning({ id: provisioningRuns.id });
  return rows.map((r) => r.id);
}

/** Flips an active run to cancelled; false when it was not active. */
export async function markRunCancelled(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .update(provisioningRuns)
    .set({ status: 'cancelled', finishedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(provisioningRuns.id, id), inArray(provisioningRuns.status, [...ACTIVE_RUN_STATUSES])))
    .returning({ id: provisioningRuns.id });
  return rows.length > 0;
}
