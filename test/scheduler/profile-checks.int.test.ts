import Cronofy from 'cronofy';
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { calendars } from '../../src/db/schema/calendars.js';
import { profiles } from '../../src/db/schema/profiles.js';
import { ProviderError } from '../../src/providers/types.js';
import { checkProfile, sweepDueProfiles } from '../../src/services/profiles.js';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { api, eventually, makeDue, profileRows, waitConnected, waitNotification } from './helpers.js';

const t = useTestApp({
  sandbox: { google: { users: 20, rooms: 2 }, microsoft: false },
  env: {
    PROFILE_CHECK_INTERVAL_SECONDS: '3600',
    RECONNECT_BACKOFF_SECONDS: '1',
    SWEEP_INTERVAL_SECONDS: '1',
  },
});
const receiver = useReceiver();

type Acc = { email: string; token: string; profileId: string; accountId: string };
let app: { clientId: string; clientSecret: string };
let alice: Acc;
let bob: Acc;

beforeAll(async () => {
  app = await t.createApplication();
  const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
  const [u1, u2] = await usableUsers(t, 'google', 2);
  const accounts: Acc[] = [];
  for (const u of [u1, u2]) {
    const email = u?.email ?? '';
    const res = await authorizeAccount(t, receiver, app, sa, email);
    accounts.push({
      email,
      token: res.access_token,
      accountId: res.sub,
      profileId: (res.linking_profile as { profile_id: string }).profile_id,
    });
  }
  [alice, bob] = accounts as [Acc, Acc];
});

describe('channels', () => {
  it('opens a channel and sends a signed verification notification', async () => {
    const path = '/alice/verify';
    const res = await api(t, 'POST', '/v1/channels', alice.token, { callback_url: `${receiver.url}${path}` });
    expect(res.status).toBe(200);
    const channel = (res.json as { channel: { channel_id: string; callback_url: string; filters: object } })
      .channel;
    expect(channel).toEqual({
      channel_id: expect.stringMatching(/^chn_/),
      callback_url: `${receiver.url}${path}`,
      filters: {},
    });
    const { body } = await waitNotification(receiver, app.clientSecret, { path, type: 'verification' });
    expect(body).toEqual({ notification: { type: 'verification' }, channel });

    const list = await api(t, 'GET', '/v1/channels', alice.token);
    expect(list.status).toBe(200);
    expect((list.json as { channels: unknown[] }).channels).toContainEqual(channel);
    // Another Account sees none of them and cannot close them.
    expect((await api(t, 'GET', '/v1/channels', bob.token)).json).toEqual({ channels: [] });
    expect((await api(t, 'DELETE', `/v1/channels/${channel.channel_id}`, bob.token)).status).toBe(404);
    expect((await api(t, 'DELETE', `/v1/channels/${channel.channel_id}`, alice.token)).status).toBe(202);
    expect((await api(t, 'DELETE', `/v1/channels/${channel.channel_id}`, alice.token)).status).toBe(404);
    expect((await api(t, 'GET', '/v1/channels', alice.token)).json).toEqual({ channels: [] });
  });

  it('works with the official cronofy SDK (create, list, delete; signature checked with hmacValid)', async () => {
    type Channels = {
      createNotificationChannel(o: { callback_url: string }): Promise<{ channel: { channel_id: string } }>;
      listNotificationChannels(o?: object): Promise<{ channels: { channel_id: string }[] }>;
      deleteNotificationChannel(o: { channel_id: string }): Promise<unknown>;
    };
    const client = new Cronofy({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      access_token: bob.token,
    });
    client.urls.api = t.url;
    const sdk = client as unknown as Channels;
    const path = '/bob/sdk';
    const { channel } = await sdk.createNotificationChannel({ callback_url: `${receiver.url}${path}` });
    const { hit } = await waitNotification(receiver, app.clientSecret, { path, type: 'verification' });
    expect(client.hmacValid({ hmac: String(hit.headers['cronofy-hmac-sha256']), body: hit.body })).toBe(true);
    expect((await sdk.listNotificationChannels()).channels.map((c) => c.channel_id)).toEqual([
      channel.channel_id,
    ]);
    await sdk.deleteNotificationChannel({ channel_id: channel.channel_id });
    expect((await sdk.listNotificationChannels()).channels).toEqual([]);
  });

  it('refuses bad input with 422, and callers without an Account token', async () => {
    for (const body of [
      {},
      { callback_url: '' },
      { callback_url: 'ftp://example.com/x' },
      { callback_url: 42 },
    ]) {
      const res = await api(t, 'POST', '/v1/channels', alice.token, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(Object.keys((res.json as { errors: object }).errors)).toEqual(['callback_url']);
    }
    expect(
      (await api(t, 'POST', '/v1/channels', undefined, { callback_url: 'https://a.example' })).status,
    ).toBe(401);
    expect((await api(t, 'GET', '/v1/channels', 'not-a-token')).status).toBe(401);
    expect((await api(t, 'DELETE', '/v1/channels/chn_x', app.clientSecret)).status).toBe(401);
  });
});

describe('profile checks', () => {
  it('disconnects a suspended user with user_suspended, then reconnects it by itself', async () => {
    const path = '/alice/events';
    const created = await api(t, 'POST', '/v1/channels', alice.token, {
      callback_url: `${receiver.url}${path}`,
    });
    expect(created.status).toBe(200);
    const db = t.runtime.app.db;

    await t.sandbox.control.updateUser('google', alice.email, { suspended: true });
    await makeDue(db, [alice.profileId, bob.profileId]);
    const sweptAt = new Date();
    const swept = await sweepDueProfiles(t.runtime.app);
    expect(swept.connected).toBe(2);
    const [row] = await waitConnected(t, [alice.profileId], false);
    expect(row).toMatchObject({ disconnectReason: 'user_suspended', failureCount: 1 });
    // The reconnect backoff starts at RECONNECT_BACKOFF_SECONDS (1 s here, minus jitter).
    const wait = (row?.nextCheckAt?.getTime() ?? 0) - (row?.lastCheckedAt?.getTime() ?? 0);
    expect(wait).toBeGreaterThanOrEqual(790);
    expect(wait).toBeLessThanOrEqual(1000);
    const { body } = await waitNotification(receiver, app.clientSecret, {
      path,
      type: 'profile_disconnected',
    });
    expect(body.notification).toMatchObject({
      profile_id: alice.profileId,
      profile_name: alice.email,
      profile_connected: false,
      profile_disconnect_reason: 'user_suspended',
      profile_relink_url: expect.stringContaining(alice.profileId),
    });
    const view = await api(t, 'GET', '/v1/profiles', alice.token);
    expect((view.json as { profiles: object[] }).profiles[0]).toMatchObject({
      profile_connected: false,
      profile_disconnect_reason: 'user_suspended',
      profile_relink_url: expect.any(String),
    });
    // Bob was checked too (his check may run after Alice's) and stays connected, on his regular interval.
    const [bobRow] = await waitConnected(t, [bob.profileId], true, sweptAt);
    expect(bobRow?.nextCheckAt?.getTime()).toBeGreaterThan(Date.now() + 3_000_000);

    // Still suspended: the next check keeps it disconnected, backoff doubles, no second notification.
    await makeDue(db, [alice.profileId]);
    await sweepDueProfiles(t.runtime.app);
    const second = await eventually(async () => {
      const [r] = await profileRows(db, [alice.profileId]);
      return r?.failureCount === 2 && r;
    }, 'second failed check');
    expect(second.connected).toBe(false);

    await t.sandbox.control.updateUser('google', alice.email, { suspended: false });
    await makeDue(db, [alice.profileId]);
    await sweepDueProfiles(t.runtime.app);
    const [back] = await waitConnected(t, [alice.profileId], true);
    expect(back).toMatchObject({ disconnectReason: null, disconnectedAt: null, failureCount: 0 });
    const connected = await waitNotification(receiver, app.clientSecret, { path, type: 'profile_connected' });
    expect(connected.body.notification).toMatchObject({
      profile_id: alice.profileId,
      profile_connected: true,
    });
    expect(connected.body.notification).not.toHaveProperty('profile_disconnect_reason');
    const disconnects = receiver.received.filter(
      (r) =>
        r.path === path &&
        (r.json as { notification: { type: string } }).notification.type !== 'verification',
    );
    expect(disconnects.map((r) => (r.json as { notification: { type: string } }).notification.type)).toEqual([
      'profile_disconnected',
      'profile_connected',
    ]);
    const view2 = await api(t, 'GET', '/v1/profiles', alice.token);
    expect((view2.json as { profiles: object[] }).profiles[0]).toMatchObject({ profile_connected: true });
  });

  it('never disconnects on transient provider failures; the check is retried later', async () => {
    const db = t.runtime.app.db;
    const lease = new Date(Date.now() + 60_000);
    await db.update(profiles).set({ nextCheckAt: lease }).where(eq(profiles.id, bob.profileId));
    await t.sandbox.control.setFaults({ rate503: 1, tokenEndpoints: true });
    try {
      const error = await checkProfile(
        t.runtime.app,
        { profileId: bob.profileId, leaseAt: lease.getTime() },
        { signal: new AbortController().signal, lastAttempt: true, logger: t.runtime.app.logger },
      ).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).retryable).toBe(true);
    } finally {
      await t.sandbox.control.setFaults({ rate503: 0 });
    }
    const [row] = await profileRows(db, [bob.profileId]);
    expect(row?.connected).toBe(true);
    // Re-claimed for a later check (a new due time), so a failed job never strands the Profile.
    expect(row?.nextCheckAt?.getTime()).not.toBe(lease.getTime());
    expect(row?.nextCheckAt?.getTime()).toBeLessThan(Date.now() + 5_000);
  });

  it('a check running twice changes nothing the second time; stale claims are skipped', async () => {
    const db = t.runtime.app.db;
    const lease = new Date(Date.now() + 60_000);
    await db.update(profiles).set({ nextCheckAt: lease }).where(eq(profiles.id, bob.profileId));
    const opts = { signal: new AbortController().signal, lastAttempt: false, logger: t.runtime.app.logger };
    const job = { profileId: bob.profileId, leaseAt: lease.getTime() };
    expect(await checkProfile(t.runtime.app, job, opts)).toBe('connected');
    expect(await checkProfile(t.runtime.app, job, opts)).toBe('skipped');
    expect(await checkProfile(t.runtime.app, { ...job, profileId: 'pro_unknown' }, opts)).toBe('skipped');
    const cals = await db.select().from(calendars).where(eq(calendars.profileId, bob.profileId));
    expect(cals.filter((c) => c.deletedAt === null).length).toBeGreaterThan(0);
  });

  it('sweeps in bounded batches and claims each due Profile once', async () => {
    const db = t.runtime.app.db;
    await makeDue(db, [alice.profileId, bob.profileId]);
    const sweptAt = new Date();
    const first = await sweepDueProfiles(t.runtime.app, { batchSize: 1, maxBatches: 1 });
    expect(first.connected + first.disconnected).toBe(1);
    const second = await sweepDueProfiles(t.runtime.app, { batchSize: 1, maxBatches: 5 });
    expect(second.connected + second.disconnected).toBe(1);
    const third = await sweepDueProfiles(t.runtime.app, { batchSize: 1, maxBatches: 5 });
    expect(third.connected + third.disconnected).toBe(0);
    await waitConnected(t, [alice.profileId, bob.profileId], true, sweptAt);
  });
});
