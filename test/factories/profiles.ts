import type { DbOrTx } from '../../src/db/client.js';
import type { Account } from '../../src/db/schema/accounts.js';
import { type Calendar, calendars } from '../../src/db/schema/calendars.js';
import { type Profile, profiles } from '../../src/db/schema/profiles.js';
import { newId } from '../../src/lib/ids.js';
import { seq } from './sequence.js';

export async function createProfile(
  db: DbOrTx,
  account: Pick<Account, 'id' | 'serviceAccountId' | 'email'>,
  overrides: Partial<typeof profiles.$inferInsert> = {},
): Promise<Profile> {
  const [row] = await db
    .insert(profiles)
    .values({
      id: newId('profile'),
      accountId: account.id,
      serviceAccountId: account.serviceAccountId,
      provider: 'google',
      providerProfileId: `g${seq()}`,
      profileName: account.email,
      nextCheckAt: new Date(Date.now() + 86_400_000),
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}

export async function createCalendar(
  db: DbOrTx,
  profile: Pick<Profile, 'id' | 'accountId' | 'profileName'>,
  overrides: Partial<typeof calendars.$inferInsert> = {},
): Promise<Calendar> {
  const [row] = await db
    .insert(calendars)
    .values({
      id: newId('calendar'),
      profileId: profile.id,
      accountId: profile.accountId,
      providerCalendarId: profile.profileName,
      name: profile.profileName,
      primary: true,
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}
