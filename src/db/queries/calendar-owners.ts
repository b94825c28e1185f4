import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type Account, accounts } from '../schema/accounts.js';
import { type Calendar, calendars } from '../schema/calendars.js';
import { type Profile, profiles } from '../schema/profiles.js';
import { type ServiceAccount, serviceAccounts } from '../schema/service-accounts.js';

/** An Account with what reading its calendars needs: its Profile, Service Account and Calendars. */
export type CalendarOwner = {
  account: Account;
  profile: Profile;
  serviceAccount: ServiceAccount;
  calendars: Calendar[];
};

/** The Accounts of `accountIds` (any order; unknown ids are left out), each with its Calendars. */
export async function findCalendarOwners(db: DbOrTx, accountIds: string[]): Promise<CalendarOwner[]> {
  if (accountIds.length === 0) {
    return [];
  }
  const rows = await db
    .select({ account: accounts, profile: profiles, serviceAccount: serviceAccounts })
    .from(accounts)
    .innerJoin(profiles, eq(profiles.accountId, accounts.id))
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, accounts.serviceAccountId))
    .where(inArray(accounts.id, accountIds));
  const cals = await db
    .select()
    .from(calendars)
    .where(and(inArray(calendars.accountId, accountIds), isNull(calendars.deletedAt)))
    .orderBy(sql`${calendars.primary} desc`, asc(calendars.name), asc(calendars.id));
  const byAccount = new Map<string, Calendar[]>();
  for (const c of cals) {
    byAccount.set(c.accountId, [...(byAccount.get(c.accountId) ?? []), c]);
  }
  return rows.map((r) => ({ ...r, calendars: byAccount.get(r.account.id) ?? [] }));
}
