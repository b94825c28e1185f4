import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { findServiceAccount } from '../../src/db/queries/service-accounts.js';
import { serviceAccounts } from '../../src/db/schema/service-accounts.js';
import { sweepDueProfiles } from '../../src/services/profiles.js';
import { sweepHealthChecks } from '../../src/services/service-account-health.js';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { api, eventually, makeDue, profileRows, waitConnected, waitNotification } from './helpers.js';

const t = useTestApp({
  sandbox: { google: { users: 20, rooms: 2 }, microsoft: { users: 20, rooms: 2 } },
  env: {
    PROFILE_CHECK_INTERVAL_SECONDS: '3600',
    RECONNECT_BACKOFF_SECONDS: '1',
    SWEEP_INTERVAL_SECONDS: '1',
  },
});
const receiver = useReceiver();

type Setup = {
  app: { clientId: string; clientSecret: string };
  serviceAccountId: string;
  accounts: { email: string; token: string; profileId: string }[];
};

async function setUp(provider: 'google' | 'microsoft', n: number): Promise<Setup> {
  const app = await t.createApplication();
  const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
  const accounts: Setup['accounts'] = [];
  for (const u of await usableUsers(t, provider, n)) {
    const res = await authorizeAccount(t, receiver, app, sa, u.email);
    accounts.push({
      email: u.email,
      token: res.access_token,
      profileId: (res.linking_profile as { profile_id: string }).profile_id,
    });
  }
  return { app, serviceAccountId: sa.service_account_id, accounts };
}

/** Provider calls that are about one Profile's mailbox (not the Service Account's own checks). */
function perProfileCalls(calls: Record<string, number>, provider: 'google' | 'microsoft'): number {
  return Object.entries(calls)
    .filter(([route]) =>
      provider === 'google'
        ? /calendarList|\/calendars\/|\/users\/:userKey/.test(route)
        : /\/users\/:id/.test(route),
    )
    .reduce((sum, [, n]) => sum + n, 0);
}

async function runSweeps(times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await sweepHealthChecks(t.runtime.app);
    await sweepDueProfiles(t.runtime.app);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe.each([
  {
    provider: 'google' as const,
    reason: 'delegation_not_granted',
    breakIt: () => t.sandbox.control.setDelegation({ granted: false }),
    fixIt: () => t.sandbox.control.setDelegation({ granted: true }),
  },
  {
    provider: 'microsoft' as const,
    reason: 'consent_revoked',
    breakIt: () => t.sandbox.control.setConsent({ granted: false }),
    fixIt: () => t.sandbox.control.setConsent({ granted: true }),
  },
])('a broken $provider Service Account', ({ provider, reason, breakIt, fixIt }) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp(provider, 3);
  });

  it('is marked broken, pauses its checks, then everything reconnects when it works again', async () => {
    const db = t.runtime.app.db;
    const ids = s.accounts.map((a) => a.profileId);
    const [first] = s.accounts;
    const path = `/${provider}/sa-events`;
    expect(
      (await api(t, 'POST', '/v1/channels', first?.token, { callback_url: `${receiver.url}${path}` })).status,
    ).toBe(200);

    await breakIt();
    await makeDue(db, ids);
    await sweepDueProfiles(t.runtime.app);
    const broken = await eventually(async () => {
      const sa = await findServiceAccount(db, s.serviceAccountId);
      return sa?.status === 'broken' && sa;
    }, 'service account broken');
    expect(broken).toMatchObject({ brokenReason: reason, failureCount: 1 });
    expect(broken.brokenSince).toBeInstanceOf(Date);
    expect(broken.nextHealthCheckAt?.getTime()).toBeGreaterThan(Date.now() - 5_000);

    // Every Profile is disconnected with the Service Account's reason, in one go, and notified.
    const rows = await waitConnected(t, ids, false);
    expect(new Set(rows.map((r) => r.disconnectReason))).toEqual(new Set([reason]));
    const { body } = await waitNotification(receiver, s.app.clientSecret, {
      path,
      type: 'profile_disconnected',
      profileId: first?.profileId ?? '',
    });
    expect(body.notification.profile_disconnect_reason).toBe(reason);

    // While broken: sweeps and failed health checks only; zero per-Profile provider calls.
    await makeDue(db, ids);
    await new Promise((r) => setTimeout(r, 300));
    await t.sandbox.control.resetCounters();
    await db
      .update(serviceAccounts)
      .set({ nextHealthCheckAt: new Date(Date.now() - 1000) })
      .where(eq(serviceAccounts.id, s.serviceAccountId));
    await runSweeps(4);
    await eventually(async () => {
      const sa = await findServiceAccount(db, s.serviceAccountId);
      return (sa?.failureCount ?? 0) >= 2 && sa;
    }, 'a failed health check');
    const counters = await t.sandbox.control.counters();
    expect(perProfileCalls(counters.calls, provider), JSON.stringify(counters.calls)).toBe(0);
    // The only calls were the Service Account's own health checks (a token request each).
    expect(Object.keys(counters.calls).every((route) => /token/.test(route))).toBe(true);
    expect(Object.values(counters.calls).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect((await profileRows(db, ids)).every((r) => !r.connected)).toBe(true);
    expect((await findServiceAccount(db, s.serviceAccountId))?.status).toBe('broken');

    // Restored: the next health check passes, the Profiles are due at once and reconnect by themselves.
    await fixIt();
    await db
      .update(serviceAccounts)
      .set({ nextHealthCheckAt: new Date(Date.now() - 1000) })
      .where(eq(serviceAccounts.id, s.serviceAccountId));
    await eventually(
      async () => {
        await runSweeps(1);
        const rows2 = await profileRows(db, ids);
        return rows2.every((r) => r.connected) && rows2;
      },
      'all profiles reconnected',
      20_000,
    );
    const sa = await findServiceAccount(db, s.serviceAccountId);
    expect(sa).toMatchObject({
      status: 'active',
      brokenReason: null,
      failureCount: 0,
      nextHealthCheckAt: null,
    });
    const back = await waitNotification(receiver, s.app.clientSecret, {
      path,
      type: 'profile_connected',
      profileId: first?.profileId ?? '',
    });
    expect(back.body.notification.profile_connected).toBe(true);
    const view = await api(t, 'GET', '/v1/profiles', first?.token);
    expect((view.json as { profiles: object[] }).profiles[0]).toMatchObject({ profile_connected: true });
  });
});

describe('a refusal about one mailbox only', () => {
  it('disconnects that Profile and leaves the Service Account active (verified once)', async () => {
    const s = await setUp('microsoft', 2);
    const [denied, fine] = s.accounts;
    const db = t.runtime.app.db;
    // An application access policy leaves this mailbox out: Graph answers 403 for it alone.
    await t.sandbox.control.updateUser('microsoft', denied?.email ?? '', { accessDenied: true });
    try {
      await makeDue(db, [denied?.profileId ?? '', fine?.profileId ?? '']);
      const sweptAt = new Date();
      await sweepDueProfiles(t.runtime.app);
      const [row] = await waitConnected(t, [denied?.profileId ?? ''], false);
      expect(row?.disconnectReason).toBe('insufficient_permissions');
      // Once the other mailbox's check has run too (it was connected before it).
      await waitConnected(t, [fine?.profileId ?? ''], true, sweptAt);
      expect((await findServiceAccount(db, s.serviceAccountId))?.status).toBe('active');
    } finally {
      await t.sandbox.control.updateUser('microsoft', denied?.email ?? '', { accessDenied: false });
    }
  });
});
