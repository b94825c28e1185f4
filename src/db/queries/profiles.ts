import { and, eq, isNull, notInArray, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type Account, accounts } from '../schema/accounts.js';
import { calendars } from '../schema/calendars.js';
import { type DirectoryEntry, directoryEntries } from '../schema/directory-entries.js';
import { type Profile, profiles } from '../schema/profiles.js';
import { type ServiceAccount, serviceAccounts } from '../schema/service-accounts.js';
import { upsertCalendars } from './calendars.js';

/**
 * `next_check_at` of a Profile whose Service Account is broken: not due until the Service Account
 * works again (then it is made due at once). Null stays reserved for "never check again" (revoked).
 */
export const PAUSED_CHECK_AT = new Date('9999-12-31T00:00:00.000Z');

export type ProfileState = 'connected' | 'disconnected';

export type ClaimOptions = { now: Date; leaseUntil: Date; limit: number };

/**
 * The due Profiles of one state, oldest due first, locked (rows a concurrent sweep holds are
 * skipped): the read half of a claim, served by the state's partial index. Exported for the benchmark.
 */
export function dueProfilesQuery(state: ProfileState, opts: Pick<ClaimOptions, 'now' | 'limit'>): SQL {
  // The state is spelled out (not a parameter) so the planner can match the partial index predicate.
  const inState = state === 'connected' ? sql`p.connected` : sql`not p.connected`;
  return sql`
      select p.id from profiles p
      where ${inState} and p.next_check_at is not null
        and p.next_check_at <= ${opts.now.toISOString()}::timestamptz
        and not exists (
          select 1 from service_accounts s
          where s.id = p.service_account_id and s.status <> 'active')
      order by p.next_check_at
      limit ${opts.limit}
      for update of p skip locked`;
}

/** The whole claim statement of `claimDueProfiles` (exported for the benchmark's EXPLAIN). */
export function claimDueProfilesQuery(state: ProfileState, opts: ClaimOptions): SQL {
  return sql`
    with due as (${dueProfilesQuery(state, opts)})
    update profiles set next_check_at = ${opts.leaseUntil.toISOString()}::timestamptz
    from due where profiles.id = due.id
    returning profiles.id`;
}

/**
 * Claims up to `limit` due Profiles in one state and leases them until `leaseUntil` (their
 * `next_check_at` moves there, so a second sweep, or this one's next batch, does not see them again;
 * a check whose job was lost becomes due again when the lease ends). Reads through the state's
 * partial index in due order and skips Profiles of Service Accounts that are not active. Rows locked
 * by a concurrent sweep are skipped, not waited for. Returns the ids claimed.
 */
export async function claimDueProfiles(
  db: DbOrTx,
  state: ProfileState,
  opts: ClaimOptions,
): Promise<string[]> {
  const rows = await db.execute<{ id: string }>(claimDueProfilesQuery(state, opts));
  return rows.map((r) => r.id);
}

export type ProfileForCheck = {
  profile: Profile;
  account: Pick<Account, 'id' | 'applicationId' | 'kind' | 'email' | 'name' | 'status'>;
  serviceAccount: ServiceAccount;
  /** The Account's directory entry as the last listing or sync saw it (none for emails authorized one by one). */
  entry: Pick<
    DirectoryEntry,
    'kind' | 'email' | 'providerId' | 'name' | 'suspended' | 'hasMailbox' | 'lastSeenAt' | 'removedAt'
  > | null;
};

/** A Profile with what a check needs: its Account's mailbox, its directory entry and its Service Account. */
export async function findProfileForCheck(
  db: DbOrTx,
  profileId: string,
): Promise<ProfileForCheck | undefined> {
  const [row] = await db
    .select({
      profile: profiles,
      account: {
        id: accounts.id,
        applicationId: accounts.applicationId,
        kind: accounts.kind,
        email: accounts.email,
        name: accounts.name,
        status: accounts.status,
      },
      serviceAccount: serviceAccounts,
      entry: {
        kind: directoryEntries.kind,
        email: directoryEntries.email,
        providerId: directoryEntries.providerId,
        name: directoryEntries.name,
        suspended: directoryEntries.suspended,
        hasMailbox: directoryEntries.hasMailbox,
        lastSeenAt: directoryEntries.lastSeenAt,
        removedAt: directoryEntries.removedAt,
      },
    })
    .from(profiles)
    .innerJoin(accounts, eq(accounts.id, profiles.accountId))
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, profiles.serviceAccountId))
    .leftJoin(directoryEntries, eq(directoryEntries.id, accounts.directoryEntryId))
    .where(eq(profiles.id, profileId));
  return row;
}

/**
 * Claims one Profile for a check requested now (the relink page's "check now"): its `next_check_at`
 * moves to `leaseUntil`, exactly as a sweep's claim, so a sweep-queued check still in flight changes
 * nothing and the requested one is the check that counts. Only Profiles that are checked at all:
 * not revoked (`next_check_at` null), not paused with a broken Service Account, Account and Service
 * Account active. Returns whether it claimed.
 */
export async function claimProfileCheckNow(
  db: DbOrTx,
  profileId: string,
  leaseUntil: Date,
): Promise<boolean> {
  const rows = await db.execute<{ id: string }>(sql`
    update profiles p set next_check_at = ${leaseUntil.toISOString()}::timestamptz, updated_at = now()
    where p.id = ${profileId} and p.next_check_at is not null
      and p.next_check_at <> ${PAUSED_CHECK_AT.toISOString()}::timestamptz
      and exists (select 1 from accounts a where a.id = p.account_id and a.status = 'active')
      and exists (select 1 from service_accounts s where s.id = p.service_account_id and s.status = 'active')
    returning p.id`);
  return rows.length > 0;
}

export type ProfilePatch = Partial<
  Pick<
    typeof profiles.$inferInsert,
    | 'connected'
    | 'disconnectReason'
    | 'disconnectedAt'
    | 'failureCount'
    | 'lastCheckedAt'
    | 'nextCheckAt'
    | 'providerProfileId'
  >
>;

/**
 * Updates a Profile only if it is still on the check lease `leaseAt` (its `next_check_at`): a check
 * that ran twice, or raced a Service Account pause or a revocation, changes nothing the second time.
 * Returns whether the row changed.
 */
export async function updateLeasedProfile(
  db: DbOrTx,
  profileId: string,
  leaseAt: Date,
  patch: ProfilePatch,
): Promise<boolean> {
  const rows = await db
    .update(profiles)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(profiles.id, profileId), eq(profiles.nextCheckAt, leaseAt)))
    .returning({ id: profiles.id });
  return rows.length > 0;
}

export type ListedCalendar = {
  providerCalendarId: string;
  name: string;
  readonly: boolean;
  primary: boolean;
};

/**
 * Makes a Profile's Calendars match what the provider lists: new ones inserted, known ones updated
 * (and undeleted), the ones no longer listed marked deleted.
 */
export async function syncProfileCalendars(
  tx: DbOrTx,
  profile: Pick<Profile, 'id' | 'accountId'>,
  listed: ListedCalendar[],
  newCalendarId: () => string,
): Promise<void> {
  const now = new Date();
  await upsertCalendars(
    tx,
    listed.map((c) => ({
      id: newCalendarId(),
      profileId: profile.id,
      accountId: profile.accountId,
      providerCalendarId: c.providerCalendarId,
      name: c.name,
      readonly: c.readonly,
      primary: c.primary,
    })),
  );
  const stillListed = listed.map((c) => c.providerCalendarId);
  await tx
    .update(calendars)
    .set({ deletedAt: now, updatedAt: now })
    .where(
      and(
        eq(calendars.profileId, profile.id),
        isNull(calendars.deletedAt),
        ...(stillListed.length > 0 ? [notInArray(calendars.providerCalendarId, stillListed)] : []),
      ),
    );
}

export type DisconnectedByPause = { profileId: string; accountId: string; profileName: string };

/**
 * Pauses every checked Profile of a (broken) Service Account in one statement: connected ones are
 * disconnected with `reason`, all get `next_check_at = PAUSED_CHECK_AT`. Returns the Profiles this
 * call disconnected that have an open Channel (the ones to notify); the others need no row back.
 */
export async function pauseServiceAccountProfiles(
  tx: DbOrTx,
  serviceAccountId: string,
  reason: string,
  now: Date,
): Promise<DisconnectedByPause[]> {
  const at = now.toISOString();
  const rows = await tx.execute<{ profile_id: string; account_id: string; profile_name: string }>(sql`
    with target as (
      select id, connected from profiles
      where service_account_id = ${serviceAccountId} and next_check_at is not null
        and (connected or next_check_at <> ${PAUSED_CHECK_AT.toISOString()}::timestamptz)
      for update),
    changed as (
      update profiles p set
        connected = false,
        disconnect_reason = case when t.connected then ${reason} else p.disconnect_reason end,
        disconnected_at = case when t.connected then ${at}::timestamptz else p.disconnected_at end,
        next_check_at = ${PAUSED_CHECK_AT.toISOString()}::timestamptz,
        updated_at = ${at}::timestamptz
      from target t where p.id = t.id
      returning p.id, p.account_id, p.profile_name, t.connected as was_connected)
    select c.id as profile_id, c.account_id, c.profile_name from changed c
    where c.was_connected
      and exists (select 1 from channels ch where ch.account_id = c.account_id and ch.closed_at is null)`);
  return rows.map((r) => ({ profileId: r.profile_id, accountId: r.account_id, profileName: r.profile_name }));
}

/**
 * Makes every checked Profile of a Service Account due within `spreadMs` from `now` (after the
 * Service Account works again): each is re-checked and reconnects by itself. Returns how many.
 */
export async function resumeServiceAccountProfiles(
  db: DbOrTx,
  serviceAccountId: string,
  now: Date,
  spreadMs: number,
): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    with resumed as (
      update profiles
      set next_check_at = ${now.toISOString()}::timestamptz + (random() * ${spreadMs}) * interval '1 millisecond',
          updated_at = ${now.toISOString()}::timestamptz
      where service_account_id = ${serviceAccountId} and next_check_at is not null
      returning 1)
    select count(*)::int as n from resumed`);
  return rows[0]?.n ?? 0;
}
