import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type ProfileStateDay, profileStateDays } from '../schema/profile-state-days.js';

/**
 * Today's (UTC) Profiles connected and disconnected of every Service Account that has Profiles, in
 * one statement: it rewrites today's rows, so the last run of a day is what that day keeps. Profiles
 * of revoked Accounts are left out (as on /admin). Returns how many Service Accounts were counted.
 */
export async function snapshotProfileStates(db: DbOrTx): Promise<number> {
  const rows = await db.execute(sql`
    insert into profile_state_days (service_account_id, day, connected, disconnected, recorded_at)
    select p.service_account_id, (now() at time zone 'utc')::date,
      count(*) filter (where p.connected)::int, count(*) filter (where not p.connected)::int, now()
    from profiles p join accounts a on a.id = p.account_id
    where a.status = 'active'
    group by p.service_account_id
    on conflict (service_account_id, day) do update
      set connected = excluded.connected, disconnected = excluded.disconnected, recorded_at = excluded.recorded_at
    returning service_account_id`);
  return [...rows].length;
}

/** A Service Account's days from `since` (YYYY-MM-DD), oldest first. */
export async function profileStateDaysOf(
  db: DbOrTx,
  serviceAccountId: string,
  since: string,
): Promise<ProfileStateDay[]> {
  return db
    .select()
    .from(profileStateDays)
    .where(and(eq(profileStateDays.serviceAccountId, serviceAccountId), gte(profileStateDays.day, since)))
    .orderBy(asc(profileStateDays.day));
}

/** One Service Account's Profiles connected and disconnected now (as the snapshot counts them). */
export async function countProfileStates(
  db: DbOrTx,
  serviceAccountId: string,
): Promise<{ connected: number; disconnected: number }> {
  const [row] = await db.execute<{ connected: number; disconnected: number }>(sql`
    select count(*) filter (where p.connected)::int as connected,
      count(*) filter (where not p.connected)::int as disconnected
    from profiles p join accounts a on a.id = p.account_id
    where p.service_account_id = ${serviceAccountId} and a.status = 'active'`);
  return { connected: row?.connected ?? 0, disconnected: row?.disconnected ?? 0 };
}
