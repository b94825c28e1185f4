import { eq, inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { ProvisionedMailbox } from '../../src/db/queries/accounts.js';
import { upsertProvisionedAccountIds } from '../../src/db/queries/provisioned-accounts.js';
import { accounts } from '../../src/db/schema/accounts.js';
import { calendars } from '../../src/db/schema/calendars.js';
import { profiles } from '../../src/db/schema/profiles.js';
import { Keyring } from '../../src/lib/crypto.js';
import { newId } from '../../src/lib/ids.js';
import * as f from '../factories/index.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const [kid, kb64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id: kid, key: Buffer.from(kb64, 'base64') }]);
const ids = {
  account: () => newId('account'),
  profile: () => newId('profile'),
  calendar: () => newId('calendar'),
};

function mailbox(
  sa: { id: string; applicationId: string },
  i: number,
  over: Partial<ProvisionedMailbox> = {},
): ProvisionedMailbox {
  return {
    applicationId: sa.applicationId,
    serviceAccountId: sa.id,
    provider: 'google',
    kind: 'user',
    email: `Person.${i}@Example.com`,
    name: `Person ${i} — ünïcode`,
    providerId: `g-${i}`,
    scope: 'read_only',
    directoryEntryId: null,
    nextCheckAt: new Date('2030-01-01T00:00:00Z'),
    calendars: [
      { providerCalendarId: `person.${i}@example.com`, name: `Cal ${i}`, readonly: false, primary: true },
      { providerCalendarId: `holidays-${i}`, name: "Holidays 'quoted'", readonly: true, primary: false },
    ],
    ...over,
  };
}

describe('the pipeline’s batch write of Accounts, Profiles and Calendars', () => {
  it('creates each with its Profile and Calendars, returning Account ids in order', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const batch = Array.from({ length: 25 }, (_, i) => mailbox(sa, i));
    const got = await t.db.transaction((tx) => upsertProvisionedAccountIds(tx, batch, ids));
    expect(got).toHaveLength(25);
    const rows = await t.db.select().from(accounts).where(inArray(accounts.id, got));
    const byId = new Map(rows.map((a) => [a.id, a]));
    got.forEach((id, i) => {
      expect(byId.get(id)?.email).toBe(batch[i]?.email);
      expect(byId.get(id)?.emailLower).toBe(batch[i]?.email.toLowerCase());
      expect(byId.get(id)?.name).toBe(batch[i]?.name);
    });
    const profs = await t.db.select().from(profiles).where(inArray(profiles.accountId, got));
    expect(profs).toHaveLength(25);
    expect(
      profs.every((p) => p.connected && p.nextCheckAt?.toISOString() === '2030-01-01T00:00:00.000Z'),
    ).toBe(true);
    const cals = await t.db.select().from(calendars).where(inArray(calendars.accountId, got));
    expect(cals).toHaveLength(50);
    expect(cals.filter((c) => c.primary)).toHaveLength(25);
  });

  it('re-uses a revoked Account: re-activated, its Profile reconnected, its Calendars renamed and undeleted', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const [first] = await t.db.transaction((tx) => upsertProvisionedAccountIds(tx, [mailbox(sa, 1)], ids));
    const accountId = first as string;
    await t.db
      .update(accounts)
      .set({ status: 'revoked', revokedAt: new Date() })
      .where(eq(accounts.id, accountId));
    await t.db
      .update(profiles)
      .set({ connected: false, disconnectReason: 'user_suspended', failureCount: 3 })
      .where(eq(profiles.accountId, accountId));
    await t.db.update(calendars).set({ deletedAt: new Date() }).where(eq(calendars.accountId, accountId));

    const again = mailbox(sa, 1, {
      email: 'person.1@example.COM',
      name: 'Renamed',
      calendars: [
        { providerCalendarId: 'person.1@example.com', name: 'Renamed cal', readonly: true, primary: true },
      ],
    });
    const [second] = await t.db.transaction((tx) => upsertProvisionedAccountIds(tx, [again], ids));
    expect(second).toBe(accountId);
    const [acc] = await t.db.select().from(accounts).where(eq(accounts.id, accountId));
    expect([acc?.status, acc?.revokedAt, acc?.name]).toEqual(['active', null, 'Renamed']);
    const [prof] = await t.db.select().from(profiles).where(eq(profiles.accountId, accountId));
    expect([prof?.connected, prof?.disconnectReason, prof?.failureCount]).toEqual([true, null, 0]);
    const cals = await t.db.select().from(calendars).where(eq(calendars.accountId, accountId));
    const main = cals.find((c) => c.providerCalendarId === 'person.1@example.com');
    expect([main?.name, main?.readonly, main?.deletedAt]).toEqual(['Renamed cal', true, null]);
    expect(cals.find((c) => c.providerCalendarId === 'holidays-1')?.deletedAt).not.toBeNull();
  });
});
