import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Sandbox, SandboxControlError, startSandbox } from '../../src/sandbox/index.js';
import { googleAdmin, googleCalendar, googleJwt, rejection, SCOPES, sbGoogle, sbMicrosoft } from './sdk.js';

let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({ seed: 11, google: { users: 10, rooms: 4 }, microsoft: { users: 10, rooms: 4 } });
});
afterAll(() => sb.close());

async function refused(p: Promise<unknown>, status: number): Promise<string> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(SandboxControlError);
  expect((err as SandboxControlError).status).toBe(status);
  return (err as SandboxControlError).message;
}

async function raw(
  method: string,
  path: string,
  body?: string,
  type = 'application/json',
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${sb.url}/_sandbox${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': type } }),
  });
  return { status: res.status, text: await res.text() };
}

describe('control API', () => {
  test('state: domains, admin, switches, counts, faults and quotas', async () => {
    const state = await sb.control.state();
    expect(state.url).toBe(sb.url);
    expect(state.google).toMatchObject({
      domain: sbGoogle(sb).domain,
      adminEmail: sbGoogle(sb).adminEmail,
      users: 10,
      rooms: 4,
    });
    expect(state.google?.delegation).toEqual({ granted: true, scopes: null });
    expect(state.microsoft).toMatchObject({
      tenantId: sbMicrosoft(sb).tenantId,
      users: 10,
      rooms: 4,
      consent: { granted: true },
    });
    expect(state.quotas).toMatchObject({
      enabled: true,
      directoryPerMinute: 2400,
      graphConcurrentPerMailbox: 4,
    });
    expect(state.faults.rate429).toBe(0);
  });

  test('a 10-user org already has every awkward case', async () => {
    const g = (await sb.control.listUsers('google')).users;
    const m = (await sb.control.listUsers('microsoft')).users;
    expect(g.some((u) => u.suspended) && g.some((u) => !u.mailbox)).toBe(true);
    expect(g.some((u) => /[A-Z]/.test(u.email)) && g.some((u) => u.email.includes('+'))).toBe(true);
    expect(new Set(g.map((u) => u.name)).size).toBeLessThan(g.length);
    expect(m.some((u) => u.shared) && m.some((u) => u.accessDenied)).toBe(true);
    const rooms = (await sb.control.listRooms('google')).rooms;
    expect(rooms.some((r) => r.capacity === null) && rooms.some((r) => r.building === null)).toBe(true);
    expect(rooms.some((r) => r.category === 'OTHER')).toBe(true);
  });

  test('bad input is a 400 with a clear message, never a 500', async () => {
    expect(await refused(sb.control.setFaults({ rate429: 2 }), 400)).toMatch(/rate429/);
    expect(await refused(sb.control.setFaults({ rate429: 0.6, rate500: 0.6 }), 400)).toMatch(/at most 1/);
    expect(await refused(sb.control.addUser('google', { email: 'not-an-email', name: 'X' }), 400)).toMatch(
      /email/,
    );
    expect(
      await refused(sb.control.addUser('google', { email: 'x@elsewhere.example', name: 'X' }), 400),
    ).toMatch(/domain/);
    expect(await refused(sb.control.updateUser('google', sbGoogle(sb).adminEmail, {}), 400)).toMatch(
      /nothing to change/,
    );
    expect(await refused(sb.control.addRoom('google', { name: 'R', capacity: -1 }), 400)).toMatch(/capacity/);
    expect(await refused(sb.control.setConsent({ granted: 'yes' as unknown as boolean }), 400)).toMatch(
      /granted/,
    );
    for (const [method, path, body, type] of [
      ['PUT', '/faults', '{not json'],
      ['PUT', '/faults', '{"latencyMs":5,"surprise":true}'],
      ['POST', '/google/users', '[]'],
      ['POST', '/google/delegation', 'granted=true', 'application/x-www-form-urlencoded'],
      ['GET', '/google/users?offset=-1'],
      ['GET', '/google/users?limit=abc'],
    ] as const) {
      const res = await raw(method, path, body, type);
      expect(res.status, `${method} ${path} ${body ?? ''}`).toBe(400);
      expect(JSON.parse(res.text).error).toBeTruthy();
    }
    expect((await raw('GET', '/yahoo/users')).status).toBe(404);
    expect(await refused(sb.control.deleteUser('google', `ghost@${sbGoogle(sb).domain}`), 404)).toMatch(
      /not found/,
    );
    expect(
      await refused(
        sb.control.addUser('google', { email: sbGoogle(sb).adminEmail.toUpperCase(), name: 'Dup' }),
        409,
      ),
    ).toMatch(/exists/);
  });

  test('add, rename, suspend and delete users and rooms: the provider APIs follow', async () => {
    const domain = sbGoogle(sb).domain;
    const dir = googleAdmin(
      sb,
      googleJwt(sb, sbGoogle(sb).adminEmail, [SCOPES.directoryUsers, SCOPES.directoryRooms]),
    );
    const listUsers = async () =>
      (await dir.users.list({ customer: 'my_customer', maxResults: 500 })).data.users ?? [];
    const listRooms = async () =>
      (await dir.resources.calendars.list({ customer: 'my_customer', maxResults: 500 })).data.items ?? [];

    const added = await sb.control.addUser('google', { email: `zoë.added@${domain}`, name: 'Zoë Added' });
    expect((await listUsers()).map((u) => u.primaryEmail)).toContain(added.email);
    expect(
      (
        await googleCalendar(sb, googleJwt(sb, added.email, [SCOPES.calendar])).calendars.get({
          calendarId: 'primary',
        })
      ).data.id,
    ).toBe(added.email);

    await sb.control.updateUser('google', added.email, { name: 'Zoë Renamed', suspended: true });
    const renamed = (await listUsers()).find((u) => u.primaryEmail === added.email);
    expect(renamed?.name?.fullName).toBe('Zoë Renamed');
    expect(renamed?.suspended).toBe(true);

    await sb.control.deleteUser('google', added.email);
    expect((await listUsers()).map((u) => u.primaryEmail)).not.toContain(added.email);
    expect((await sb.control.state()).google?.users).toBe(10);

    const room = await sb.control.addRoom('google', {
      name: 'Ny Rum',
      capacity: 6,
      building: 'HQ',
      floor: 2,
    });
    expect((await listRooms()).find((r) => r.resourceEmail === room.email)).toMatchObject({
      resourceName: 'Ny Rum',
      capacity: 6,
      floorName: '2',
    });
    await sb.control.updateRoom('google', room.email, { name: 'Nytt Namn', capacity: null });
    const updated = (await listRooms()).find((r) => r.resourceEmail === room.email);
    expect(updated?.resourceName).toBe('Nytt Namn');
    expect(updated?.capacity).toBeUndefined();
    const first = (await sb.control.listRooms('google', { limit: 1 })).rooms[0]?.email ?? '';
    await sb.control.deleteRoom('google', first);
    await sb.control.deleteRoom('google', room.email);
    expect((await listRooms()).map((r) => r.resourceEmail)).not.toContain(first);
    expect((await sb.control.listRooms('google')).total).toBe(3);
  });

  test('counters reset', async () => {
    await fetch(`${sb.url}/v1.0/users`);
    expect((await sb.control.counters()).calls['GET /v1.0/users 401']).toBeGreaterThanOrEqual(1);
    const reset = await sb.control.resetCounters();
    expect(reset.calls).toEqual({});
    expect(reset.quotaViolations.total).toBe(0);
  });
});
