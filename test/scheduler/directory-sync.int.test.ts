import { and, eq, inArray } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema/accounts.js';
import { calendars } from '../../src/db/schema/calendars.js';
import { directoryEntries } from '../../src/db/schema/directory-entries.js';
import { profiles } from '../../src/db/schema/profiles.js';
import { serviceAccounts } from '../../src/db/schema/service-accounts.js';
import {
  SYNC_LEASE_MS,
  sweepDirectorySyncs,
  syncDirectoryNow,
  syncDirectoryPage,
} from '../../src/services/directory-sync.js';
import { sweepDueProfiles } from '../../src/services/profiles.js';
import { useTestApp } from '../helpers/app.js';
import {
  authorizeAccount,
  type RegisteredSa,
  registerSandboxServiceAccount,
  usableUsers,
} from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { startRun, waitForRun } from '../helpers/runs.js';
import { api, eventually, waitConnected, waitNotification } from './helpers.js';

const t = useTestApp({
  sandbox: { google: { users: 12, rooms: 4 }, microsoft: { users: 10, rooms: 4 } },
  env: {
    DIRECTORY_SYNC_INTERVAL_SECONDS: '1',
    PROFILE_CHECK_INTERVAL_SECONDS: '3600',
    RECONNECT_BACKOFF_SECONDS: '1',
    SWEEP_INTERVAL_SECONDS: '1',
  },
});
const receiver = useReceiver();

type Provider = 'google' | 'microsoft';
let app: { clientId: string; clientSecret: string };
/** Google without auto-provisioning, Microsoft with it. */
const sas = {} as Record<Provider, RegisteredSa>;
const db = () => t.runtime.app.db;
/** The room each provider's first test removed from the directory. */
const removedRooms = {} as Record<Provider, string>;
/** Small pages, so each sync below lists several pages of each kind. */
const pageSize = 3;

beforeAll(async () => {
  app = await t.createApplication();
  sas.google = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
  sas.microsoft = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret, {
    auto_provision: true,
  });
  for (const sa of Object.values(sas)) {
    const run = await startRun(t, sa.access_token, { include: ['users', 'rooms'] });
    expect((await waitForRun(t, sa.access_token, run.id, 30_000)).status).toMatch(/^completed/);
  }
}, 60_000);

async function entryOf(provider: Provider, email: string) {
  const [row] = await db()
    .select()
    .from(directoryEntries)
    .where(
      and(
        eq(directoryEntries.serviceAccountId, sas[provider].service_account_id),
        eq(directoryEntries.emailLower, email.toLowerCase()),
      ),
    );
  return row;
}

async function accountOf(provider: Provider, email: string) {
  const [row] = await db()
    .select({ account: accounts, profile: profiles })
    .from(accounts)
    .innerJoin(profiles, eq(profiles.accountId, accounts.id))
    .where(
      and(
        eq(accounts.serviceAccountId, sas[provider].service_account_id),
        eq(accounts.emailLower, email.toLowerCase()),
      ),
    );
  return row;
}

async function primaryCalendarName(accountId: string) {
  const [row] = await db()
    .select({ name: calendars.name })
    .from(calendars)
    .where(and(eq(calendars.accountId, accountId), eq(calendars.primary, true)));
  return row?.name;
}

const serviceAccountRow = async (provider: Provider) =>
  (
    await db().select().from(serviceAccounts).where(eq(serviceAccounts.id, sas[provider].service_account_id))
  )[0];

describe('directory sync', () => {
  it.each(['google', 'microsoft'] as const)(
    '%s: renamed, resized, removed and new rooms: entries, Account and Calendar names follow',
    async (provider) => {
      const control = t.sandbox.control;
      const { rooms } = await control.listRooms(provider, { limit: 100 });
      const [renamed, resized, removed] = rooms;
      if (!renamed || !resized || !removed) {
        throw new Error('the sandbox org needs three rooms');
      }
      const renamedAccount = await accountOf(provider, renamed.email);
      expect(renamedAccount?.account.name).toBe(renamed.name);
      const oldCalendarName = await primaryCalendarName(renamedAccount?.account.id ?? '');
      const newName = `Boardroom ${provider}`;
      await control.updateRoom(provider, renamed.email, { name: newName });
      await control.updateRoom(provider, resized.email, { capacity: (resized.capacity ?? 0) + 7 });
      await control.deleteRoom(provider, removed.email);
      const added = await control.addRoom(provider, { name: `Annex ${provider}`, capacity: 12 });

      const started = Date.now();
      const result = await syncDirectoryNow(t.runtime.app, sas[provider].service_account_id, { pageSize });
      expect(result).toMatchObject({ outcome: 'finished', removed: 1, disconnected: 1, revoked: 0 });
      // Every page of both kinds was listed (several pages each at this page size).
      const listed = (result as { tally: Record<'users' | 'rooms', { listed: number }> }).tally;
      expect(listed.users.listed).toBe((await control.listUsers(provider, { limit: 1 })).total);
      expect(listed.rooms.listed).toBe((await control.listRooms(provider, { limit: 1 })).total);
      expect(listed.rooms.listed).toBeGreaterThan(pageSize);

      expect(await entryOf(provider, renamed.email)).toMatchObject({ name: newName, removedAt: null });
      const account = await accountOf(provider, renamed.email);
      expect(account?.account.name).toBe(newName);
      const calendarName = await primaryCalendarName(account?.account.id ?? '');
      if (provider === 'google') {
        // Google names a room's calendar `Building-Floor-Name (capacity)`: the new name replaces the old.
        expect(oldCalendarName).toContain(renamed.name);
        expect(calendarName).toBe(oldCalendarName?.replace(renamed.name, newName));
      } else {
        // Graph names every primary calendar "Calendar": nothing to rename.
        expect(calendarName).toBe(oldCalendarName);
      }
      expect(await entryOf(provider, resized.email)).toMatchObject({
        capacity: (resized.capacity ?? 0) + 7,
        removedAt: null,
      });

      removedRooms[provider] = removed.email;
      const gone = await entryOf(provider, removed.email);
      expect(gone?.removedAt).toBeInstanceOf(Date);
      const goneAccount = await accountOf(provider, removed.email);
      expect(goneAccount?.profile).toMatchObject({ connected: false, disconnectReason: 'user_not_found' });
      expect(goneAccount?.account.status).toBe('active'); // Revoked only after the grace period.

      expect(await entryOf(provider, added.email)).toMatchObject({
        kind: 'room',
        name: `Annex ${provider}`,
        capacity: 12,
        removedAt: null,
      });
      if (provider === 'google') {
        expect(result).toMatchObject({ provisioningRunId: null });
        expect(await accountOf(provider, added.email)).toBeUndefined();
      } else {
        // auto_provision: the sync started a provisioning run of the rooms, which provisions the new one.
        const runId = (result as { provisioningRunId: string | null }).provisioningRunId;
        expect(runId).toMatch(/^run_/);
        const run = await waitForRun(t, sas[provider].access_token, runId ?? '', 20_000);
        expect(run.counts.provisioned).toBe(1);
        expect((await accountOf(provider, added.email))?.profile.connected).toBe(true);
      }

      const sa = await serviceAccountRow(provider);
      expect(sa?.lastDirectorySyncAt?.getTime()).toBeGreaterThanOrEqual(started);
      // DIRECTORY_SYNC_INTERVAL_SECONDS (1 s here) after the sync's start.
      const next = sa?.nextDirectorySyncAt?.getTime() ?? 0;
      expect(next).toBeGreaterThanOrEqual(started + 1000);
      expect(next).toBeLessThan(started + 3000);
    },
  );

  it('google users: removed → user_not_found, suspended → user_suspended (notified); back → reconnects; past the grace period → revoked', async () => {
    const control = t.sandbox.control;
    const sa = sas.google;
    const [alice, bob, carol] = await Promise.all(
      (await usableUsers(t, 'google', 3)).map(async (u) => {
        const res = await authorizeAccount(t, receiver, app, sa, u.email);
        return {
          email: u.email,
          token: res.access_token,
          accountId: res.sub,
          profileId: (res.linking_profile as { profile_id: string }).profile_id,
        };
      }),
    );
    if (!alice || !bob || !carol) {
      throw new Error('three users expected');
    }
    for (const [who, token] of [
      ['alice', alice.token],
      ['bob', bob.token],
    ] as const) {
      const res = await api(t, 'POST', '/v1/channels', token, {
        callback_url: `${receiver.url}/sync/${who}`,
      });
      expect(res.status).toBe(200);
    }

    await control.deleteUser('google', alice.email);
    await control.updateUser('google', bob.email, { suspended: true });
    await control.updateUser('google', carol.email, { suspended: true });
    const first = await syncDirectoryNow(t.runtime.app, sa.service_account_id, { pageSize });
    expect(first).toMatchObject({ outcome: 'finished', removed: 1, disconnected: 1, revoked: 0 });
    expect((await accountOf('google', alice.email))?.profile).toMatchObject({
      connected: false,
      disconnectReason: 'user_not_found',
      failureCount: 1,
    });
    for (const u of [bob, carol]) {
      expect((await accountOf('google', u.email))?.profile).toMatchObject({
        connected: false,
        disconnectReason: 'user_suspended',
      });
    }
    expect(await entryOf('google', bob.email)).toMatchObject({ suspended: true, removedAt: null });
    for (const [who, u, reason] of [
      ['alice', alice, 'user_not_found'],
      ['bob', bob, 'user_suspended'],
    ] as const) {
      const { body } = await waitNotification(receiver, app.clientSecret, {
        path: `/sync/${who}`,
        type: 'profile_disconnected',
      });
      expect(body.notification).toMatchObject({
        profile_id: u.profileId,
        profile_connected: false,
        profile_disconnect_reason: reason,
        profile_relink_url: expect.stringContaining(u.profileId),
      });
    }

    // Carol is unsuspended before the grace period ends: the sync makes her Profile due, and the
    // regular Profile check reconnects it.
    await control.updateUser('google', carol.email, { suspended: false });
    const second = await syncDirectoryNow(t.runtime.app, sa.service_account_id, { pageSize });
    expect(second).toMatchObject({ outcome: 'finished', removed: 0, revoked: 0 });
    await sweepDueProfiles(t.runtime.app);
    await waitConnected(t, [carol.profileId], true);

    // Past the grace period (shortened here), the removed and the still suspended are revoked.
    const third = await syncDirectoryNow(t.runtime.app, sa.service_account_id, { graceMs: 0, pageSize });
    // Alice, Bob, and the room removed by the first test.
    expect(third).toMatchObject({ outcome: 'finished', revoked: 3 });
    expect((await accountOf('google', removedRooms.google))?.account.status).toBe('revoked');
    expect((await accountOf('google', alice.email))?.account.status).toBe('revoked');
    expect((await accountOf('google', bob.email))?.account.status).toBe('revoked');
    expect((await accountOf('google', carol.email))?.account.status).toBe('active');
    expect((await api(t, 'GET', '/v1/userinfo', alice.token)).status).toBe(401);
    expect((await api(t, 'GET', '/v1/userinfo', bob.token)).status).toBe(401);
    expect((await api(t, 'GET', '/v1/userinfo', carol.token)).status).toBe(200);
    // Each disconnection was notified once.
    const notified = receiver.received.filter(
      (r) =>
        r.path.startsWith('/sync/') &&
        (r.json as { notification: { type: string } }).notification.type !== 'verification',
    );
    expect(notified).toHaveLength(2);
  });

  it('microsoft with auto_provision: a new user gets an Account', async () => {
    const email = `new.hire@${t.sandbox.microsoft?.domain}`;
    await t.sandbox.control.addUser('microsoft', { email, name: 'New Hire' });
    const result = await syncDirectoryNow(t.runtime.app, sas.microsoft.service_account_id, { pageSize });
    expect(result).toMatchObject({ outcome: 'finished', provisioningRunId: expect.stringMatching(/^run_/) });
    const runId = (result as { provisioningRunId: string }).provisioningRunId;
    const run = await waitForRun(t, sas.microsoft.access_token, runId, 20_000);
    expect(run.counts.provisioned).toBe(1);
    const found = await accountOf('microsoft', email);
    expect(found?.account).toMatchObject({ name: 'New Hire', status: 'active' });
    expect(found?.profile.connected).toBe(true);
    // Nothing new on the next sync: no run.
    expect(
      await syncDirectoryNow(t.runtime.app, sas.microsoft.service_account_id, { pageSize }),
    ).toMatchObject({
      provisioningRunId: null,
    });
  });

  it('the sweep claims due Service Accounts once and the jobs sync them; a step without the lease does nothing', async () => {
    const ids = Object.values(sas).map((s) => s.service_account_id);
    const { rooms } = await t.sandbox.control.listRooms('google', { limit: 1 });
    const room = rooms[0];
    await t.sandbox.control.updateRoom('google', room?.email ?? '', { name: 'Swept room' });
    await db()
      .update(serviceAccounts)
      .set({ nextDirectorySyncAt: new Date(Date.now() - 1000) })
      .where(inArray(serviceAccounts.id, ids));
    const started = Date.now();
    expect(await sweepDirectorySyncs(t.runtime.app)).toMatchObject({ claimed: 2 });
    // Claimed (leased): a second sweep finds nothing due.
    expect(await sweepDirectorySyncs(t.runtime.app)).toMatchObject({ claimed: 0 });
    await eventually(async () => {
      const rows = await db().select().from(serviceAccounts).where(inArray(serviceAccounts.id, ids));
      return rows.every((r) => (r.lastDirectorySyncAt?.getTime() ?? 0) >= started);
    }, 'both directories synced by the jobs');
    expect((await entryOf('google', room?.email ?? ''))?.name).toBe('Swept room');
    expect((await accountOf('google', room?.email ?? ''))?.account.name).toBe('Swept room');

    const stale = await syncDirectoryPage(t.runtime.app, {
      serviceAccountId: sas.google.service_account_id,
      syncId: started,
      leaseAt: started + SYNC_LEASE_MS,
      kind: 'users',
      page: 0,
      cursor: null,
      tally: { users: { listed: 0, added: 0 }, rooms: { listed: 0, added: 0 } },
    });
    expect(stale).toEqual({ outcome: 'skipped', deliveryIds: [] });
  });

  it('a Service Account refused for the whole directory is marked broken; nothing is marked removed', async () => {
    const id = sas.google.service_account_id;
    const removedCount = async () =>
      (
        await db()
          .select({ id: directoryEntries.id, removedAt: directoryEntries.removedAt })
          .from(directoryEntries)
          .where(eq(directoryEntries.serviceAccountId, id))
      ).filter((e) => e.removedAt !== null).length;
    const removedBefore = await removedCount();
    await t.sandbox.control.setDelegation({ granted: false });
    t.runtime.app.providers.evict(id);
    try {
      expect(await syncDirectoryNow(t.runtime.app, id, { pageSize })).toEqual({
        outcome: 'service_account_broken',
      });
      expect(await serviceAccountRow('google')).toMatchObject({
        status: 'broken',
        brokenReason: 'delegation_not_granted',
      });
      expect(await removedCount()).toBe(removedBefore);
      // A broken Service Account is not swept, however due.
      const due = new Date(Date.now() - 1000);
      await db().update(serviceAccounts).set({ nextDirectorySyncAt: due }).where(eq(serviceAccounts.id, id));
      await sweepDirectorySyncs(t.runtime.app);
      expect((await serviceAccountRow('google'))?.nextDirectorySyncAt).toEqual(due);
    } finally {
      await t.sandbox.control.setDelegation({ granted: true });
    }
  });
});
