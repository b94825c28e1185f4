import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { RunInclude } from '../../lib/provisioning.js';
import type { DbOrTx } from '../client.js';
import { postgresErrorCode } from '../errors.js';
import { preparedFor } from '../prepared.js';
import { oneOf } from '../schema/columns.js';
import {
  ACTIVE_RUN_STATUSES,
  type ProvisioningRun,
  provisioningRuns,
  type ReasonCounts,
  type RunCursor,
} from '../schema/provisioning-runs.js';
import { sendWithCommit } from '../with-commit.js';

export type NewRun = typeof provisioningRuns.$inferInsert;

export async function insertRun(db: DbOrTx, row: NewRun): Promise<ProvisioningRun> {
  const [created] = await db.insert(provisioningRuns).values(row).returning();
  if (!created) {
    throw new Error('insert into provisioning_runs returned nothing');
  }
  return created;
}

// Built once: every provisioning batch reads its run twice, and drizzle's builder costs more than the lookup.
const runById = preparedFor((db) =>
  db
    .select()
    .from(provisioningRuns)
    .where(eq(provisioningRuns.id, sql.placeholder('id')))
    .prepare('find_run'),
);

export async function findRun(db: DbOrTx, id: string): Promise<ProvisioningRun | undefined> {
  const [row] = await runById(db).execute({ id });
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

type CountDelta = Partial<Record<'listed' | 'provisioned' | 'skipped' | 'failed', number>>;

/** Items that moved into (`sign` 1) or out of (-1) a skipped or failed status, by reason. */
export function reasonDelta(
  items: readonly { status: string; errorKey: string | null }[],
  sign: 1 | -1 = 1,
): ReasonCounts {
  const delta: ReasonCounts = {};
  for (const i of items) {
    if (i.status === 'skipped' || i.status === 'failed') {
      const key = `${i.status}:${i.errorKey ?? 'unknown'}`;
      delta[key] = (delta[key] ?? 0) + sign;
    }
  }
  return delta;
}

/**
 * `reason_counts` plus `delta`, key by key, without the reasons that reach 0; undefined when the delta
 * is empty (the column is then left as it is).
 */
function reasonCountsPlus(delta: ReasonCounts | undefined) {
  if (!delta || Object.keys(delta).length === 0) {
    return undefined;
  }
  return sql`(select coalesce(jsonb_object_agg(k, n), '{}'::jsonb) from (
      select k, sum(n)::int as n from (
        select key as k, value::int as n from jsonb_each_text(reason_counts)
        union all select key, value::int from jsonb_each_text(${JSON.stringify(delta)}::jsonb)) s
      group by k having sum(n) <> 0) t)`;
}

/** `, reason_counts = …` for a statement's SET list, or nothing. */
function setReasonCounts(delta: ReasonCounts | undefined) {
  const plus = reasonCountsPlus(delta);
  return plus ? sql`, reason_counts = ${plus}` : sql``;
}

/**
 * Adds to the run's counters and reasons (in the same transaction as the item changes they count).
 */
export async function addRunCounts(
  db: DbOrTx,
  id: string,
  delta: CountDelta,
  reasons?: ReasonCounts,
): Promise<void> {
  const set: Record<string, unknown> = { updatedAt: new Date() };
  for (const [k, v] of Object.entries(delta)) {
    if (v) {
      const col = provisioningRuns[k as 'listed'];
      set[k] = sql`${col} + ${v}`;
    }
  }
  const plus = reasonCountsPlus(reasons);
  if (plus) {
    set.reasonCounts = plus;
  }
  await db.update(provisioningRuns).set(set).where(eq(provisioningRuns.id, id));
}

export async function setRunCursor(db: DbOrTx, id: string, cursor: RunCursor): Promise<void> {
  await db.update(provisioningRuns).set({ cursor, updatedAt: new Date() }).where(eq(provisioningRuns.id, id));
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

/** SQLSTATE of addRunCountsAtCommit's statement when the run is no longer active (division by zero). */
const RUN_NOT_ACTIVE_CODE = '22012';

/**
 * Adds to the counts of a run that is still active, as its transaction's last statement, sent with
 * the COMMIT (sendWithCommit): the run row, which every batch of the run updates, is locked only
 * inside Postgres (on a busy worker, batches queued 11–90 ms each on it while the client read the
 * answer before sending COMMIT). When the run is no longer active the statement fails, so COMMIT
 * rolls the transaction back; `active` says which, once the transaction has returned.
 */
export function addRunCountsAtCommit(
  db: DbOrTx,
  id: string,
  delta: CountDelta,
  reasons?: ReasonCounts,
): { active: Promise<boolean> } {
  const counted = sendWithCommit(
    db.execute(sql`
      with counted as (
        update provisioning_runs set
          listed = listed + ${delta.listed ?? 0}, provisioned = provisioned + ${delta.provisioned ?? 0},
          skipped = skipped + ${delta.skipped ?? 0}, failed = failed + ${delta.failed ?? 0},
          updated_at = now()${setReasonCounts(reasons)}
        where id = ${id} and status in (${oneOf(ACTIVE_RUN_STATUSES)})
        returning 1)
      select 1 / (select count(*)::int from counted) as active`),
  );
  const active = counted.then(
    () => true,
    (err: unknown) => {
      if (isRunNotActiveError(err)) {
        return false;
      }
      throw err;
    },
  );
  active.catch(() => {});
  return { active };
}

/** The error addRunCountsAtCommit's statement fails with for a run no longer active. */
export function isRunNotActiveError(err: unknown): boolean {
  return postgresErrorCode(err) === RUN_NOT_ACTIVE_CODE;
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
  delta: { listed: number; skipped: number; failed?: number },
  reasons?: ReasonCounts,
): Promise<RunCursor | undefined> {
  const rows = await db.execute<{ cursor: RunCursor; include: string[] }>(sql`
    update provisioning_runs set
      cursor = jsonb_set(cursor, ${`{${kind}}`}::text[], ${JSON.stringify(next)}::jsonb),
      listed = listed + ${delta.listed}, skipped = skipped + ${delta.skipped},
      failed = failed + ${delta.failed ?? 0}, updated_at = now()${setReasonCounts(reasons)}
    where id = ${id} and status in (${oneOf(ACTIVE_RUN_STATUSES)})
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
