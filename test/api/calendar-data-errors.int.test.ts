import { describe, expect, it } from 'vitest';
import { hidesFreeBusy } from '../../src/sandbox/google/calendar-data.js';
import { seedHash } from '../../src/sandbox/prng.js';
import { useTestApp } from '../helpers/app.js';
import {
  dstWindow,
  expectedFreeBusy,
  generated,
  sortEntries,
  TEST_SEED,
  windowOf,
} from '../helpers/calendar-expect.js';
import { type SdkError, sdkClient } from '../helpers/cronofy-sdk.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: { users: 30, rooms: 2 }, microsoft: { users: 30, rooms: 2 } } });
const receiver = useReceiver();

async function get(path: string, token: string | undefined) {
  const res = await fetch(`${t.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: (text ? JSON.parse(text) : undefined) as Record<string, any>,
  };
}

async function setup(provider: 'google' | 'microsoft', scope: string, userIndex = 0) {
  const app = await t.createApplication();
  const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
  const users = await usableUsers(t, provider, userIndex + 1);
  const user = users[userIndex];
  if (!user) {
    throw new Error('no usable user');
  }
  const token = await authorizeAccount(t, receiver, app, sa, user.email, scope);
  return { app, sa, user, token };
}

const w = dstWindow();
const q = `tzid=${encodeURIComponent(w.tzid)}&from=${w.from}&to=${w.to}`;

describe('calendar data: scopes and credentials', () => {
  it('a free/busy-only Account reads free/busy, gets 403 on events; no events scope and no token are refused', async () => {
    const { token, app, sa } = await setup('google', 'free_busy');
    const client = sdkClient(t.url, { access_token: token.access_token });
    const fb = (await client.freeBusy({ tzid: w.tzid, from: w.from, to: w.to })) as { free_busy: unknown[] };
    expect(fb.free_busy.length).toBeGreaterThan(0);
    await expect(client.readEvents({ tzid: w.tzid, from: w.from, to: w.to })).rejects.toMatchObject({
      statusCode: 403,
    });
    const [, other] = await usableUsers(t, 'google', 2);
    const writer = await authorizeAccount(t, receiver, app, sa, other?.email ?? '', 'create_event');
    expect((await get(`/v1/free_busy?${q}`, writer.access_token)).status).toBe(403);
    expect((await get(`/v1/events?${q}`, writer.access_token)).status).toBe(403);
    expect((await get(`/v1/free_busy?${q}`, undefined)).status).toBe(401);
    expect((await get(`/v1/events?${q}`, 'not-a-token')).status).toBe(401);
    // A Service Account token is not an Account token.
    expect((await get(`/v1/free_busy?${q}`, sa.access_token)).status).toBe(403);
    // Availability takes the Application's client secret, not an Account token.
    const res = await fetch(`${t.url}/v1/availability`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect(res.status).toBe(401);
  });

  it("availability refuses another Application's Accounts and Accounts without a free/busy scope", async () => {
    const { token } = await setup('microsoft', 'read_only');
    const stranger = await t.createApplication();
    const body = (sub: string) => ({
      participants: [{ members: [{ sub }], required: 'all' }],
      required_duration: { minutes: 30 },
      available_periods: [{ start: `${w.from}T09:00:00Z`, end: `${w.from}T17:00:00Z` }],
    });
    const other = sdkClient(t.url, { access_token: stranger.clientSecret });
    await expect(other.availability(body(token.sub))).rejects.toMatchObject({ statusCode: 422 });
    const { token: writer, app } = await setup('microsoft', 'create_event', 1);
    const own = sdkClient(t.url, { access_token: app.clientSecret });
    await expect(own.availability(body(writer.sub))).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('calendar data: input is validated (422 errors.{field}, never a 500)', () => {
  it('refuses bad windows, zones, calendars, pages and hostile bytes', async () => {
    const { token } = await setup('google', 'read_only');
    const a = token.access_token;
    const errorsOf = async (path: string) => {
      const r = await get(path, a);
      expect(r.status, `${path} ${JSON.stringify(r.json)}`).toBe(422);
      return Object.keys(r.json.errors);
    };
    expect(await errorsOf(`/v1/free_busy?from=${w.from}&to=${w.to}`)).toEqual(['tzid']);
    expect(await errorsOf(`/v1/events?tzid=Mars/Olympus&from=${w.from}&to=${w.to}`)).toEqual(['tzid']);
    expect(await errorsOf(`/v1/events?tzid=Etc/UTC&from=${w.to}&to=${w.from}`)).toEqual(['to']);
    expect(await errorsOf('/v1/events?tzid=Etc/UTC&from=2001-01-01&to=2001-01-05')).toEqual(['from']);
    expect(await errorsOf('/v1/free_busy?tzid=Etc/UTC&to=2999-01-01')).toEqual(['to']);
    expect(await errorsOf('/v1/free_busy?tzid=Etc/UTC&from=2027-02-30')).toEqual(['from']);
    expect(await errorsOf(`/v1/events?${q}&last_modified=yesterday`)).toEqual(['last_modified']);
    expect(await errorsOf(`/v1/events?${q}&calendar_ids[]=cal_nope`)).toEqual(['calendar_ids']);
    expect(await errorsOf(`/v1/events?${q}&include_deleted=maybe`)).toEqual(['include_deleted']);
    for (const path of [
      `/v1/free_busy?tzid=Etc%00UTC&from=${w.from}`,
      `/v1/events?${q}&calendar_ids[]=%00`,
      `/v1/free_busy?tzid=%C3%28`,
      `/v1/events?tzid=${'A'.repeat(5000)}`,
    ]) {
      const r = await get(path, a);
      expect([400, 422], `${path} → ${r.status}`).toContain(r.status);
    }
    expect((await get('/v1/events/pages/unknown-page-id-000000', a)).status).toBe(404);
    expect((await get('/v1/free_busy/pages/%00', a)).status).toBeLessThan(500);
  });

  it('refuses bad availability bodies by field', async () => {
    const { token, app } = await setup('google', 'free_busy');
    const post = async (body: unknown) => {
      const res = await fetch(`${t.url}/v1/availability`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.clientSecret}`, 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as { errors?: Record<string, unknown> } };
    };
    const good = {
      participants: [{ members: [{ sub: token.sub }], required: 'all' }],
      required_duration: { minutes: 30 },
      available_periods: [{ start: `${w.from}T09:00:00Z`, end: `${w.from}T17:00:00Z` }],
    };
    expect((await post(good)).status).toBe(200);
    const bad: [unknown, string][] = [
      [{ ...good, participants: [] }, 'participants'],
      [{ ...good, required_duration: { minutes: 0 } }, 'required_duration.minutes'],
      [
        { ...good, available_periods: [{ start: `${w.from}T17:00:00Z`, end: `${w.from}T09:00:00Z` }] },
        'available_periods.0',
      ],
      [{ ...good, available_periods: [{ start: 'soon', end: 'later' }] }, 'available_periods.0'],
      [
        { ...good, available_periods: [{ start: '2027-01-01T00:00:00Z', end: '2027-03-01T00:00:00Z' }] },
        'available_periods',
      ],
      [
        { ...good, participants: [{ members: [{ sub: token.sub }], required: 3 }] },
        'participants.0.required',
      ],
      [{ ...good, participants: [{ members: [{ sub: 'acc_nobody' }] }] }, 'participants'],
      [{ ...good, participants: [{ members: [{ sub: `acc_\u0000` }] }] }, ''],
      [{ ...good, start_interval: { minutes: 'x' } }, 'start_interval.minutes'],
    ];
    for (const [body, field] of bad) {
      const r = await post(body);
      expect([400, 422], JSON.stringify(body)).toContain(r.status);
      if (field && r.status === 422) {
        expect(Object.keys(r.json.errors ?? {}), JSON.stringify(r.json)).toContain(field);
      }
    }
    expect((await post('{"participants": [')).status).toBe(400);
  });
});

describe('calendar data: provider failures', () => {
  it.each(['google', 'microsoft'] as const)(
    'a transient failure answers 503 with Retry-After and changes nothing (%s)',
    async (provider) => {
      const { token } = await setup(provider, 'read_only');
      await t.sandbox.control.setFaults({ rate503: 1, retryAfterSecs: 7, tokenEndpoints: false });
      try {
        const r = await get(`/v1/free_busy?${q}`, token.access_token);
        expect(r.status).toBe(503);
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        const e = await get(`/v1/events?${q}`, token.access_token);
        expect(e.status).toBe(503);
      } finally {
        await t.sandbox.control.setFaults({ rate503: 0, tokenEndpoints: true });
      }
      const profiles = await get('/v1/profiles', token.access_token);
      expect(profiles.json.profiles[0].profile_connected).toBe(true);
    },
  );

  it.each(['google', 'microsoft'] as const)(
    'a final refusal disconnects the Profile as a scheduled check would, with its reason (%s)',
    async (provider) => {
      const { token, user } = await setup(provider, 'read_only', 2);
      const channelPath = `/channel/${provider}/${token.sub}`;
      const channel = await fetch(`${t.url}/v1/channels`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ callback_url: `${receiver.url}${channelPath}` }),
      });
      expect(channel.status).toBeLessThan(300);
      await t.sandbox.control.updateUser(
        provider,
        user.email,
        provider === 'google' ? { suspended: true } : { mailbox: false },
      );
      const client = sdkClient(t.url, { access_token: token.access_token });
      const err = (await client
        .readEvents({ tzid: w.tzid, from: w.from, to: w.to })
        .catch((e) => e)) as SdkError;
      expect(err.statusCode).toBe(502);
      const reason = provider === 'google' ? 'user_suspended' : 'mailbox_not_enabled';
      expect(JSON.stringify(err.error?.entity)).toContain(reason);
      const profiles = (await client.profileInformation()).profiles as Record<string, unknown>[];
      expect(profiles[0]).toMatchObject({ profile_connected: false, profile_disconnect_reason: reason });
      expect(String(profiles[0]?.profile_relink_url)).toContain('/relink/');
      // Its notification, as a scheduled check sends it.
      const note = await receiver.waitFor(
        (r) => r.path === channelPath && r.body.includes('profile_disconnected'),
      );
      expect(note.body).toContain(token.sub);
      // Asked again: still refused, the Profile stays disconnected with the same reason.
      expect((await get(`/v1/free_busy?${q}`, token.access_token)).status).toBe(502);
    },
  );
});

describe('calendar data: provider calls', () => {
  it('Google free/busy asks as the admin, impersonating only a user whose free/busy the admin cannot see', async () => {
    const { users } = await t.sandbox.control.listUsers('google', { offset: 0, limit: 30 });
    const pick = (hidden: boolean) =>
      users.find(
        (u, pos) =>
          pos > 0 &&
          !u.suspended &&
          u.mailbox &&
          !u.admin &&
          hidesFreeBusy(seedHash(TEST_SEED), { pos }) === hidden,
      );
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const domain = t.sandbox.google?.domain ?? '';
    const { start, end } = windowOf(w);
    for (const [hidden, calls] of [
      [false, 1],
      [true, 2],
    ] as const) {
      const user = pick(hidden);
      if (!user) {
        throw new Error(`no sandbox user with hidden=${hidden}`);
      }
      const token = await authorizeAccount(t, receiver, app, sa, user.email, 'free_busy');
      const primary = (
        (await get('/v1/calendars', token.access_token)).json.calendars as {
          calendar_id: string;
          calendar_primary: boolean;
        }[]
      ).find((c) => c.calendar_primary)?.calendar_id;
      const before = (await t.sandbox.control.counters()).calls['POST /calendar/v3/freeBusy 200'] ?? 0;
      const r = await get(`/v1/free_busy?${q}&calendar_ids[]=${primary}`, token.access_token);
      expect(r.status).toBe(200);
      const after = (await t.sandbox.control.counters()).calls['POST /calendar/v3/freeBusy 200'] ?? 0;
      expect(after - before, `hidden=${hidden}`).toBe(calls);
      const { events } = generated('google', user.email, domain, start, end);
      expect(
        sortEntries(r.json.free_busy.map(({ calendar_id: _c, ...rest }: Record<string, string>) => rest)),
      ).toEqual(expectedFreeBusy('google', events, start, end));
    }
  });
});
