import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { oneOf } from '../schema/columns.js';
import { ACTIVE_RUN_STATUSES } from '../schema/provisioning-runs.js';
import { selectionEmails } from '../schema/selection-emails.js';

/** Rows per insert statement (Postgres allows 65,535 parameters: 4 per row). */
const INSERT_CHUNK = 5_000;

/** Stores an owner's explicit emails (duplicates in any spelling kept once); returns how many it holds. */
export async function storeSelectionEmails(
  db: DbOrTx,
  owner: { ownerId: string; serviceAccountId: string },
  emails: readonly string[],
): Promise<number> {
  const rows = [...new Map(emails.map((e) => [e.toLowerCase(), e])).entries()].map(([emailLower, email]) => ({
    ownerId: owner.ownerId,
    serviceAccountId: owner.serviceAccountId,
    emailLower,
    email,
  }));
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await db
      .insert(selectionEmails)
      .values(rows.slice(i, i + INSERT_CHUNK))
      .onConflictDoNothing();
  }
  return rows.length;
}

/** Copies one owner's emails to another (a run taking its Service Account's default selection). */
export async function copySelectionEmails(
  db: DbOrTx,
  fromOwnerId: string,
  toOwnerId: string,
): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    with copied as (
      insert into selection_emails (owner_id, service_account_id, email_lower, email)
      select ${toOwnerId}, service_account_id, email_lower, email from selection_emails
      where owner_id = ${fromOwnerId}
      on conflict do nothing
      returning 1
    ) select count(*)::int as n from copied`);
  return rows[0]?.n ?? 0;
}

export async function deleteSelectionEmails(db: DbOrTx, ownerId: string): Promise<void> {
  await db.delete(selectionEmails).where(eq(selectionEmails.ownerId, ownerId));
}

/** Which of `emailsLower` the owner's selection names. */
export async function selectedEmails(
  db: DbOrTx,
  ownerId: string,
  emailsLower: readonly string[],
): Promise<Set<string>> {
  if (emailsLower.length === 0) {
    return new Set();
  }
  const rows = await db
    .select({ emailLower: selectionEmails.emailLower })
    .from(selectionEmails)
    .where(and(eq(selectionEmails.ownerId, ownerId), inArray(selectionEmails.emailLower, [...emailsLower])));
  return new Set(rows.map((r) => r.emailLower));
}

/**
 * A run's explicit emails that none of its items covers (the directory listed no such user), in
 * email order after `after`: what the run reports as not found.
 */
export async function emailsWithoutItems(
  db: DbOrTx,
  runId: string,
  after: string,
  limit: number,
): Promise<{ email: string; emailLower: string }[]> {
  return db
    .select({ email: selectionEmails.email, emailLower: selectionEmails.emailLower })
    .from(selectionEmails)
    .where(
      and(
        eq(selectionEmails.ownerId, runId),
        gt(selectionEmails.emailLower, after),
        sql`not exists (select 1 from run_items i where i.run_id = ${runId} and i.email_lower = ${selectionEmails.emailLower})`,
      ),
    )
    .orderBy(asc(selectionEmails.emailLower))
    .limit(limit);
}

/**
 * Deletes up to `limit` explicit emails of runs that finished before `cutoff` (records.retention,
 * with the runs' items): a run needs them only while it lists. A Service Account's own are kept.
 */
export async function deleteSelectionEmailsOfFinishedRuns(
  db: DbOrTx,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    delete from selection_emails s using (
      select e.owner_id, e.email_lower from selection_emails e
      join provisioning_runs r on r.id = e.owner_id
      where r.status not in (${oneOf(ACTIVE_RUN_STATUSES)}) and r.finished_at < ${cutoff.toISOString()}
      limit ${limit}
    ) d
    where s.owner_id = d.owner_id and s.email_lower = d.email_lower
    returning 1 as n`);
  return rows.length;
}
