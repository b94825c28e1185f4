import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type DirectoryEntry, directoryEntries } from '../schema/directory-entries.js';
import { serviceAccounts } from '../schema/service-accounts.js';
import { claimDueServiceAccounts } from './service-accounts.js';

/**
 * Directory sync (DESIGN §7): the claim on a Service Account's sync (`next_directory_sync_at` is a
 * lease while a sync runs), and the changes a sync makes to directory entries, Accounts, Calendars
 * and Profiles. Each statement is scoped to one Service Account and reads through its indexes.
 */

/**
 * Claims up to `limit` active Service Accounts whose directory sync is due (partial index
 * `service_accounts_sync_due_idx`): their `next_directory_sync_at` moves to `leaseUntil`, so a
 * second sweep does not see them, and a sync that is lost is due again when the lease ends. Rows a
 * concurrent sweep holds are skipped. Returns the ids claimed.
 */
export async function claimDueDirectorySyncs(
  db: DbOrTx,
  opts: { now: Date; leaseUntil: Date; limit: number },
): Promise<string[]> {
  return claimDueServiceAccounts(db, { ...opts, status: 'active', column: 'next_directory_sync_at' });
}

/** Claims one active Service Account's sync now, due or not (a sync already running loses its lease). */
export async function claimDirectorySync(
  db: DbOrTx,
  serviceAccountId: string,
  leaseUntil: Date,
): Promise<boolean> {
  const rows = await db
    .update(serviceAccounts)
    .set({ nextDirectorySyncAt: leaseUntil })
    .where(and(eq(serviceAccounts.id, serviceAccountId), eq(serviceAccounts.status, 'active')))
    .returning({ id: serviceAccounts.id });
  return rows.length > 0;
}

/**
 * Moves the lease of a running sync from `leaseAt` to `leaseUntil`; false when the sync no longer
 * holds it (claimed again, or the Service Account is no longer active). Locks the Service Account's
 * row until commit, so two steps of one Service Account's syncs never interleave.
 */
export async function renewDirectorySyncLease(
  db: DbOrTx,
  serviceAccountId: string,
  leaseAt: Date,
  leaseUntil: Date,
): Promise<boolean> {
  const rows = await db
    .update(serviceAccounts)
    .set({ nextDirectorySyncAt: leaseUntil })
    .where(
      and(
        eq(serviceAccounts.id, serviceAccountId),
        eq(serviceAccounts.status, 'active'),
        eq(serviceAccounts.nextDirectorySyncAt, leaseAt),
      ),
    )
    .returning({ id: serviceAccounts.id });
  return rows.length > 0;
}

/**
 * Ends a sync that holds the lease `leaseAt`: when it finished (`lastSyncAt`, null to leave it) and
 * when the next one is due. False when the sync no longer holds the lease.
 */
export async function endDirectorySync(
  db: DbOrTx,
  serviceAccountId: string,
  leaseAt: Date,
  set: { lastSyncAt: Date | null; nextSyncAt: Date },
): Promise<boolean> {
  const rows = await db
    .update(serviceAccounts)
    .set({
      nextDirectorySyncAt: set.nextSyncAt,
      ...(set.lastSyncAt ? { lastDirectorySyncAt: set.lastSyncAt } : {}),
    })
    .where(and(eq(serviceAccounts.id, serviceAccountId), eq(serviceAccounts.nextDirectorySyncAt, leaseAt)))
    .returning({ id: serviceAccounts.id });
  return rows.length > 0;
}

export type StoredEntry = Pick<
  DirectoryEntry,
  'emailLower' | 'kind' | 'name' | 'suspended' | 'hasMailbox' | 'removedAt'
>;

/** The stored entries among `emailsLower` (what a page is compared with before it is stored). */
export async function findEntriesByEmail(
  db: DbOrTx,
  serviceAccountId: string,
  emailsLower: string[],
): Promise<StoredEntry[]> {
  if (emailsLower.length === 0) {
    return [];
  }
  return db
    .select({
      emailLower: directoryEntries.emailLower,
      kind: directoryEntries.kind,
      name: directoryEntries.name,
      suspended: directoryEntries.suspended,
      hasMailbox: directoryEntries.hasMailbox,
      removedAt: directoryEntries.removedAt,
    })
    .from(directoryEntries)
    .where(
      and(
        eq(directoryEntries.serviceAccountId, serviceAccountId),
        inArray(directoryEntries.emailLower, emailsLower),
      ),
    );
}

const valuesList = (rows: SQL[]) => sql.join(rows, sql`, `);

/**
 * Renamed mailboxes: the Account takes the new name, and the primary Calendar too where its name
 * carries the old one (a calendar named after the mailbox, or Google's generated room name
 * `Building-Floor-Name (capacity)`); a calendar named otherwise (an email, Graph's "Calendar") is
 * left as the provider names it. Returns the number of Accounts renamed.
 */
export async function renameMailboxes(
  tx: DbOrTx,
  serviceAccountId: string,
  renames: { emailLower: string; oldName: string; newName: string }[],
): Promise<number> {
  if (renames.length === 0) {
    return 0;
  }
  const values = valuesList(renames.map((r) => sql`(${r.emailLower}, ${r.oldName}, ${r.newName})`));
  const renamed = await tx.execute<{ id: string }>(sql`
    update accounts a set name = v.new_name, updated_at = now()
    from (values ${values}) as v(email_lower, old_name, new_name)
    where a.service_account_id = ${serviceAccountId} and a.email_lower = v.email_lower
      and a.name <> v.new_name
    returning a.id`);
  await tx.execute(sql`
    update calendars c set name = replace(c.name, v.old_name, v.new_name), updated_at = now()
    from accounts a, (values ${values}) as v(email_lower, old_name, new_name)
    where a.service_account_id = ${serviceAccountId} and a.email_lower = v.email_lower
      and c.account_id = a.id and c.is_primary and c.deleted_at is null
      and v.old_name <> '' and strpos(c.name, v.old_name) > 0`);
  return renamed.length;
}

/**
 * Makes the checked Profiles of these mailboxes due now, so the regular Profile check runs soon:
 * a user back in the directory (or unsuspended) reconnects, a renamed one gets its calendars'
 * names from the provider. Returns how many.
 */
export async function makeMailboxProfilesDue(
  tx: DbOrTx,
  serviceAccountId: string,
  emailsLower: string[],
  now: Date,
): Promise<number> {
  if (emailsLower.length === 0) {
    return 0;
  }
  const emails = valuesList(emailsLower.map((e) => sql`(${e})`));
  const rows = await tx.execute<{ id: string }>(sql`
    update profiles p set next_check_at = ${now.toISOString()}::timestamptz, updated_at = now()
    from accounts a, (values ${emails}) as v(email_lower)
    where a.service_account_id = ${serviceAccountId} and a.email_lower = v.email_lower
      and a.status = 'active' and p.account_id = a.id and p.next_check_at is not null
    returning p.id`);
  return rows.length;
}

export type DisconnectedBySync = {
  profileId: string;
  accountId: string;
  profileName: string;
  reason: string;
};

export type DisconnectOptions = {
  now: Date;
  /** First reconnect check after about this long (the Profile check backoff's first step). */
  recheckAfterMs: number;
};

/**
 * Disconnects the connected Profiles of active Accounts whose mailbox `source` names
 * (`v(email_lower, reason)`), each with its reason, on the reconnect backoff's first step (minus up
 * to 20% jitter per row). Returns how many, and those whose Account has an open Channel (to notify).
 */
async function disconnectProfiles(
  tx: DbOrTx,
  serviceAccountId: string,
  source: SQL,
  opts: DisconnectOptions,
): Promise<{ disconnected: number; notify: DisconnectedBySync[] }> {
  const at = opts.now.toISOString();
  const rows = await tx.execute<{ disconnected: number; notify: DisconnectedBySync[] }>(sql`
    with changed as (
      update profiles p set
        connected = false, disconnect_reason = v.reason, disconnected_at = ${at}::timestamptz,
        failure_count = 1,
        next_check_at = ${at}::timestamptz
          + (${opts.recheckAfterMs} * (1 - 0.2 * random())) * interval '1 millisecond',
        updated_at = ${at}::timestamptz
      from accounts a, ${source}
      where a.service_account_id = ${serviceAccountId} and a.email_lower = v.email_lower
        and a.status = 'active' and p.account_id = a.id and p.connected and p.next_check_at is not null
      returning p.id, p.account_id, p.profile_name, v.reason)
    select
      (select count(*)::int from changed) as disconnected,
      coalesce((
        select json_agg(json_build_object('profileId', c.id, 'accountId', c.account_id,
          'profileName', c.profile_name, 'reason', c.reason))
        from changed c
        where exists (select 1 from channels ch where ch.account_id = c.account_id and ch.closed_at is null)
      ), '[]'::json) as notify`);
  const row = rows[0];
  // json comes back parsed from postgres.js; a string would mean a driver that leaves it as text.
  const notify =
    typeof row?.notify === 'string' ? (JSON.parse(row.notify) as DisconnectedBySync[]) : row?.notify;
  return { disconnected: row?.disconnected ?? 0, notify: notify ?? [] };
}

/** Disconnects the Profiles of listed mailboxes the directory refuses (suspended, no mailbox). */
export async function disconnectMailboxProfiles(
  tx: DbOrTx,
  serviceAccountId: string,
  mailboxes: { emailLower: string; reason: string }[],
  opts: DisconnectOptions,
): Promise<{ disconnected: number; notify: DisconnectedBySync[] }> {
  if (mailboxes.length === 0) {
    return { disconnected: 0, notify: [] };
  }
  const values = valuesList(mailboxes.map((m) => sql`(${m.emailLower}, ${m.reason})`));
  return disconnectProfiles(tx, serviceAccountId, sql`(values ${values}) as v(email_lower, reason)`, opts);
}

/**
 * Marks removed the entries of the given kinds that the sync started at `seenBefore` did not list,
 * and disconnects their Profiles with `user_not_found`. Returns how many entries and Profiles.
 */
export async function removeUnlistedEntries(
  tx: DbOrTx,
  serviceAccountId: string,
  kinds: string[],
  seenBefore: Date,
  opts: DisconnectOptions,
): Promise<{ removed: number; disconnected: number; notify: DisconnectedBySync[] }> {
  if (kinds.length === 0) {
    return { removed: 0, disconnected: 0, notify: [] };
  }
  const at = opts.now.toISOString();
  const removed = await tx.execute<{ n: number }>(sql`
    with removed as (
      update directory_entries set removed_at = ${at}::timestamptz, updated_at = ${at}::timestamptz
      where service_account_id = ${serviceAccountId} and removed_at is null
        and last_seen_at < ${seenBefore.toISOString()}::timestamptz
        and kind in (${sql.join(
          kinds.map((k) => sql`${k}`),
          sql`, `,
        )})
      returning 1)
    select count(*)::int as n from removed`);
  const n = removed[0]?.n ?? 0;
  if (n === 0) {
    return { removed: 0, disconnected: 0, notify: [] };
  }
  const source = sql`(
    select email_lower, 'user_not_found'::text as reason from directory_entries
    where service_account_id = ${serviceAccountId} and removed_at = ${at}::timestamptz) as v`;
  return { removed: n, ...(await disconnectProfiles(tx, serviceAccountId, source, opts)) };
}

/**
 * Active Accounts past the grace period: their entry was removed from the directory, or is
 * suspended with the Profile disconnected for it, since before `cutoff`, and the Profile is still
 * disconnected. At most `limit`.
 */
export async function accountsPastGrace(
  db: DbOrTx,
  serviceAccountId: string,
  cutoff: Date,
  limit: number,
): Promise<{ accountId: string; applicationId: string }[]> {
  const at = cutoff.toISOString();
  const rows = await db.execute<{ account_id: string; application_id: string }>(sql`
    select a.id as account_id, a.application_id from directory_entries e
    join accounts a on a.service_account_id = e.service_account_id and a.email_lower = e.email_lower
    join profiles p on p.account_id = a.id
    where e.service_account_id = ${serviceAccountId} and a.status = 'active' and not p.connected
      and ((e.removed_at is not null and e.removed_at <= ${at}::timestamptz)
        or (e.removed_at is null and e.suspended and p.disconnect_reason = 'user_suspended'
          and p.disconnected_at <= ${at}::timestamptz))
    order by a.id
    limit ${limit}`);
  return rows.map((r) => ({ accountId: r.account_id, applicationId: r.application_id }));
}
