import { generateKeyPairSync } from 'node:crypto';
import { GaxiosError } from 'gaxios';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Sandbox, type SandboxUser, startSandbox } from '../../src/sandbox/index.js';
import { googleAdmin, googleCalendar, googleJwt, rejection, SCOPES, sbGoogle } from './sdk.js';

const USERS = 1234;
const ROOMS = 321;
let sb: Sandbox;
let truth: SandboxUser[];

function gaxios(err: unknown): GaxiosError {
  expect(err).toBeInstanceOf(GaxiosError);
  return err as GaxiosError;
}

/** The Google API error reason (`error.errors[0].reason`) of a GaxiosError. */
function reason(err: GaxiosError): string | undefined {
  return (err.response?.data as { error?: { errors?: { reason?: string }[] } })?.error?.errors?.[0]?.reason;
}

function tokenError(err: GaxiosError): { error?: string; error_description?: string } {
  return err.response?.data as { error?: string; error_description?: string };
}

beforeAll(async () => {
  sb = await startSandbox({ seed: 42, google: { users: USERS, rooms: ROOMS }, microsoft: false });
  truth = [];
  for (let offset = 0; offset < USERS; offset += 1000) {
    truth.push(...(await sb.control.listUsers('google', { offset, limit: 1000 })).users);
  }
});
afterAll(() => sb.close());

const admin = () => sbGoogle(sb).adminEmail;
const find = (pred: (u: SandboxUser) => boolean) => {
  const u = truth.find(pred);
  if (!u) {
    throw new Error('the generated org lacks the case this test needs');
  }
  return u;
};

describe('Google JWT-bearer token endpoint', () => {
  test('issues a token for a signature it verifies, cached by the SDK across calls', async () => {
    await sb.control.resetCounters();
    const jwt = googleJwt(sb, admin(), [SCOPES.directoryUsers]);
    const dir = googleAdmin(sb, jwt);
    await dir.users.list({ customer: 'my_customer', maxResults: 10 });
    await dir.users.list({ customer: 'my_customer', maxResults: 10 });
    expect(jwt.credentials.access_token).toMatch(/^ya29\./);
    expect(jwt.credentials.expiry_date).toBeGreaterThan(Date.now() + 3_500_000);
    const counters = await sb.control.counters();
    expect(counters.tokensIssued.google).toBe(1);
    expect(counters.tokensIssued.googleBySubject[admin().toLowerCase()]).toBe(1);
    expect(counters.calls['POST /token 200']).toBe(1);
    expect(counters.calls['GET /admin/directory/v1/users 200']).toBe(2);
  });

  test('a signature made with another key is refused: 400 invalid_grant', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = {
      ...sbGoogle(sb).serviceAccountKey,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const err = gaxios(
      await rejection(googleJwt(sb, admin(), [SCOPES.directoryUsers], forged).getAccessToken()),
    );
    expect(err.status).toBe(400);
    expect(tokenError(err)).toEqual({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
  });

  test('an unknown, a suspended or a malformed subject is refused: 400 invalid_grant', async () => {
    const domain = sbGoogle(sb).domain;
    for (const subject of [`nobody.here99999999@${domain}`, find((u) => u.suspended).email]) {
      const err = gaxios(await rejection(googleJwt(sb, subject, [SCOPES.calendar]).getAccessToken()));
      expect(err.status).toBe(400);
      expect(tokenError(err)).toEqual({
        error: 'invalid_grant',
        error_description: 'Invalid email or User ID',
      });
    }
    const err = gaxios(await rejection(googleJwt(sb, 'not-an-email', [SCOPES.calendar]).getAccessToken()));
    expect(tokenError(err).error).toBe('invalid_grant');
  });

  test('without domain-wide delegation: 401 unauthorized_client, and earlier tokens stop working', async () => {
    const before = googleAdmin(sb, googleJwt(sb, admin(), [SCOPES.directoryUsers]));
    await before.users.list({ customer: 'my_customer', maxResults: 1 });
    await sb.control.setDelegation({ granted: false });
    try {
      const err = gaxios(await rejection(googleJwt(sb, admin(), [SCOPES.directoryUsers]).getAccessToken()));
      expect(err.status).toBe(401);
      expect(tokenError(err).error).toBe('unauthorized_client');
      const stale = gaxios(await rejection(before.users.list({ customer: 'my_customer', maxResults: 1 })));
      expect(stale.status).toBe(401);
      expect(reason(stale)).toBe('authError');
    } finally {
      await sb.control.setDelegation({ granted: true });
    }
    // Delegation for some scopes only: asking for another one is refused.
    await sb.control.setDelegation({ granted: true, scopes: [SCOPES.calendar] });
    try {
      const err = gaxios(await rejection(googleJwt(sb, admin(), [SCOPES.directoryUsers]).getAccessToken()));
      expect(tokenError(err).error).toBe('unauthorized_client');
      await googleJwt(sb, admin(), [SCOPES.calendar]).getAccessToken();
    } finally {
      await sb.control.setDelegation({ granted: true, scopes: null });
    }
  });

  test('a rotated key: the old one is refused, the new one from the control API works', async () => {
    const old = sbGoogle(sb).serviceAccountKey;
    const { serviceAccountKey } = await sb.control.setGoogleKey({ rotate: true });
    expect(serviceAccountKey.private_key_id).not.toBe(old.private_key_id);
    expect(serviceAccountKey.token_uri).toBe(`${sb.url}/token`);
    const err = gaxios(await rejection(googleJwt(sb, admin(), [SCOPES.calendar], old).getAccessToken()));
    expect(tokenError(err).error_description).toBe('Invalid JWT Signature.');
    const { token } = await googleJwt(sb, admin(), [SCOPES.calendar], serviceAccountKey).getAccessToken();
    expect(token).toBeTruthy();
    expect(sbGoogle(sb).serviceAccountKey.private_key_id).toBe(serviceAccountKey.private_key_id);
  });
});

describe('Admin SDK Directory', () => {
  test('users.list pages to the last page and matches the ground truth, awkward data included', async () => {
    const dir = googleAdmin(sb, googleJwt(sb, admin(), [SCOPES.directoryUsers]));
    const emails: string[] = [];
    const users: {
      name?: { fullName?: string | null } | null;
      suspended?: boolean | null;
      isMailboxSetup?: boolean | null;
    }[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const res = await dir.users.list({
        customer: 'my_customer',
        maxResults: 500,
        ...(pageToken ? { pageToken } : {}),
      });
      pages += 1;
      for (const u of res.data.users ?? []) {
        emails.push(u.primaryEmail ?? '');
        users.push(u);
      }
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(emails).toEqual(truth.map((u) => u.email));
    expect(users.some((u) => u.suspended)).toBe(true);
    expect(users.some((u) => u.isMailboxSetup === false)).toBe(true);
    expect(emails.some((e) => /[A-Z]/.test(e))).toBe(true);
    expect(emails.some((e) => e.includes('+'))).toBe(true);
    const names = users.map((u) => u.name?.fullName ?? '');
    expect(new Set(names).size).toBeLessThan(names.length);
    expect(names.some((n) => n.length > 100)).toBe(true);
    expect(names.some((n) => /[^\x20-\x7e]/.test(n))).toBe(true);
  });

  test('users.list by domain works; a bad page token, maxResults or missing customer is a 400', async () => {
    const dir = googleAdmin(sb, googleJwt(sb, admin(), [SCOPES.directoryUsers]));
    const byDomain = await dir.users.list({ domain: sbGoogle(sb).domain, maxResults: 5 });
    expect(byDomain.data.users?.map((u) => u.primaryEmail)).toEqual(truth.slice(0, 5).map((u) => u.email));
    const bad = gaxios(await rejection(dir.users.list({ customer: 'my_customer', pageToken: 'bm9wZQ' })));
    expect([bad.status, reason(bad)]).toEqual([400, 'invalid']);
    const tooMany = gaxios(await rejection(dir.users.list({ customer: 'my_customer', maxResults: 501 })));
    expect([tooMany.status, reason(tooMany)]).toEqual([400, 'invalid']);
    const noCustomer = gaxios(await rejection(dir.users.list({ maxResults: 5 })));
    expect(noCustomer.status).toBe(400);
  });

  test('resources.calendars.list pages through every room', async () => {
    const dir = googleAdmin(sb, googleJwt(sb, admin(), [SCOPES.directoryRooms]));
    const rooms: {
      resourceEmail?: string | null;
      capacity?: number | null;
      buildingId?: string | null;
      resourceCategory?: string | null;
    }[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const res = await dir.resources.calendars.list({
        customer: 'my_customer',
        maxResults: 100,
        ...(pageToken ? { pageToken } : {}),
      });
      pages += 1;
      rooms.push(...(res.data.items ?? []));
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken);
    expect(pages).toBe(4);
    expect(rooms).toHaveLength(ROOMS);
    expect(new Set(rooms.map((r) => r.resourceEmail)).size).toBe(ROOMS);
    expect(rooms.every((r) => r.resourceEmail?.endsWith('@resource.calendar.google.com'))).toBe(true);
    expect(rooms.some((r) => r.capacity === undefined)).toBe(true);
    expect(rooms.some((r) => r.buildingId === undefined)).toBe(true);
    expect(new Set(rooms.map((r) => r.resourceCategory))).toEqual(new Set(['CONFERENCE_ROOM', 'OTHER']));
  });

  test('a non-admin subject gets 403 forbidden; a token without the scope 403 insufficientPermissions', async () => {
    const user = find((u) => !u.admin && !u.suspended);
    const err = gaxios(
      await rejection(
        googleAdmin(sb, googleJwt(sb, user.email, [SCOPES.directoryUsers])).users.list({
          customer: 'my_customer',
        }),
      ),
    );
    expect([err.status, reason(err)]).toEqual([403, 'forbidden']);
    const scope = gaxios(
      await rejection(
        googleAdmin(sb, googleJwt(sb, admin(), [SCOPES.calendar])).users.list({ customer: 'my_customer' }),
      ),
    );
    expect([scope.status, reason(scope)]).toEqual([403, 'insufficientPermissions']);
  });
});

describe('Calendar API', () => {
  test('calendarList.list and calendars.get primary as the user', async () => {
    const user = find((u) => !u.suspended && u.mailbox && u.secondaryCalendars > 0);
    const cal = googleCalendar(sb, googleJwt(sb, user.email, [SCOPES.calendar]));
    const list = await cal.calendarList.list();
    expect(list.data.items?.[0]).toMatchObject({ id: user.email, primary: true, accessRole: 'owner' });
    expect(list.data.items).toHaveLength(1 + user.secondaryCalendars);
    const primary = await cal.calendars.get({ calendarId: 'primary' });
    expect(primary.data).toMatchObject({ kind: 'calendar#calendar', id: user.email });
    const secondary = list.data.items?.[1]?.id ?? '';
    expect((await cal.calendars.get({ calendarId: secondary })).data.id).toBe(secondary);
  });

  test('a room calendar through the admin subject; unknown calendars 404 notFound', async () => {
    const room = (await sb.control.listRooms('google', { limit: 1 })).rooms[0];
    const cal = googleCalendar(sb, googleJwt(sb, admin(), [SCOPES.calendar]));
    const got = await cal.calendars.get({ calendarId: room?.email ?? '' });
    expect(got.data.id).toBe(room?.email);
    const err = gaxios(
      await rejection(cal.calendars.get({ calendarId: `c_nothing@resource.calendar.google.com` })),
    );
    expect([err.status, reason(err)]).toEqual([404, 'notFound']);
  });

  test('a user without a mailbox gets 403 notACalendarUser; a user suspended after the token 401', async () => {
    const noMailbox = find((u) => !u.mailbox && !u.suspended);
    const err = gaxios(
      await rejection(
        googleCalendar(sb, googleJwt(sb, noMailbox.email, [SCOPES.calendar])).calendarList.list(),
      ),
    );
    expect([err.status, reason(err)]).toEqual([403, 'notACalendarUser']);

    const victim = find((u) => u.mailbox && !u.suspended && !u.admin && u.email !== noMailbox.email);
    const cal = googleCalendar(sb, googleJwt(sb, victim.email, [SCOPES.calendar]));
    await cal.calendars.get({ calendarId: 'primary' });
    await sb.control.updateUser('google', victim.email, { suspended: true });
    try {
      const after = gaxios(await rejection(cal.calendars.get({ calendarId: 'primary' })));
      expect([after.status, reason(after)]).toEqual([401, 'authError']);
      const token = gaxios(await rejection(googleJwt(sb, victim.email, [SCOPES.calendar]).getAccessToken()));
      expect(tokenError(token).error).toBe('invalid_grant');
    } finally {
      await sb.control.updateUser('google', victim.email, { suspended: false });
    }
  });
});
