import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DirectoryProvider, DirectoryUser } from '../../src/providers/types.js';
import { ProviderError } from '../../src/providers/types.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { googleCredentials, providerFor, reasonOf, sandboxUrls } from './helpers.js';

// The real googleapis + google-auth-library against the sandbox over plain HTTP.
let sb: Sandbox;
let google: DirectoryProvider;
let domain: string;

const NORMAL = () => `normal.user@${domain}`;
const SUSPENDED = () => `to.suspend@${domain}`;
const NO_MAILBOX = () => `no.mailbox@${domain}`;

beforeAll(async () => {
  sb = await startSandbox({ seed: 'google-adapter', google: { users: 60, rooms: 12 }, microsoft: false });
  domain = sb.google?.domain as string;
  await sb.control.addUser('google', { email: NORMAL(), name: 'Normal User' });
  await sb.control.addUser('google', { email: SUSPENDED(), name: 'Soon Suspended' });
  await sb.control.addUser('google', { email: NO_MAILBOX(), name: 'No Mailbox', mailbox: false });
  google = providerFor(googleCredentials(sb), sandboxUrls(sb));
});

afterAll(async () => {
  await google?.close();
  await sb?.close();
});

beforeEach(async () => {
  await sb.control.setFaults({ rate429: 0, rate500: 0, rate503: 0, rateTimeout: 0, latencyMs: 0 });
});

async function allUsers(
  p: DirectoryProvider,
  pageSize: number,
): Promise<{ users: DirectoryUser[]; pages: number }> {
  const users: DirectoryUser[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Awaited<ReturnType<DirectoryProvider['listUsersPage']>> = await p.listUsersPage(cursor, {
      pageSize,
    });
    users.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor);
  return { users, pages };
}

describe('Google adapter: operations', () => {
  it('verifies the credential with a token and one Directory page', async () => {
    const { usersOnFirstPage } = await google.verify();
    expect(usersOnFirstPage).toBeGreaterThan(0);
  });

  it('lists every user page by page, resumable from a cursor, with suspension and mailbox flags', async () => {
    const { users, pages } = await allUsers(google, 25);
    expect(users).toHaveLength(63);
    expect(pages).toBe(3);
    const truth = await sb.control.listUsers('google', { limit: 100 });
    const byEmail = new Map(truth.users.map((u) => [u.email.toLowerCase(), u]));
    for (const u of users) {
      const t = byEmail.get(u.email.toLowerCase());
      expect(t, u.email).toBeDefined();
      expect(u).toMatchObject({
        providerId: t?.id,
        kind: 'user',
        suspended: t?.suspended,
        hasMailbox: t?.mailbox,
      });
    }
    expect(users.some((u) => u.suspended)).toBe(true);
    expect(users.some((u) => !u.hasMailbox)).toBe(true);
    // Resuming from the second page's cursor gives the same rest of the listing.
    const first = await google.listUsersPage(null, { pageSize: 25 });
    const resumed = await google.listUsersPage(first.nextCursor, { pageSize: 25 });
    expect(resumed.items.map((u) => u.email)).toEqual(users.slice(25, 50).map((u) => u.email));
  });

  it('lists rooms with capacity, building, floor and type', async () => {
    const page = await google.listRoomsPage(null, { pageSize: 5 });
    expect(page.items).toHaveLength(5);
    const rest = await google.listRoomsPage(page.nextCursor, { pageSize: 50 });
    expect(rest.nextCursor).toBeNull();
    const rooms = [...page.items, ...rest.items];
    expect(rooms).toHaveLength(12);
    for (const r of rooms) {
      expect(r.email).toMatch(/@resource\.calendar\.google\.com$/);
      expect(r.resourceType).toMatch(/Conference room|Equipment/);
    }
    expect(rooms.some((r) => r.capacity !== null && r.building !== null && r.floor !== null)).toBe(true);
  });

  it('finds a user and a room by email, and says user_not_found for neither', async () => {
    const user = await google.findMailbox(NORMAL().toUpperCase());
    expect(user).toMatchObject({
      kind: 'user',
      email: NORMAL(),
      name: 'Normal User',
      suspended: false,
      hasMailbox: true,
    });
    const rooms = await google.listRoomsPage(null, { pageSize: 20 });
    const target = rooms.items[7];
    const room = await google.findMailbox(target?.email as string);
    expect(room).toMatchObject({ kind: 'room', email: target?.email, capacity: target?.capacity });
    expect(await reasonOf(google.findMailbox(`nobody@${domain}`))).toBe('user_not_found');
    expect(await reasonOf(google.findMailbox('c_nothing00000000@resource.calendar.google.com'))).toBe(
      'user_not_found',
    );
  });

  it("lists a user's calendars as the user, primary first, and a room's through the admin", async () => {
    const calendars = await google.listCalendars({ kind: 'user', email: NORMAL(), providerId: 'x' });
    expect(calendars[0]).toMatchObject({ providerCalendarId: NORMAL(), primary: true, readonly: false });
    const rooms = await google.listRoomsPage(null, { pageSize: 1 });
    const room = rooms.items[0];
    const roomCalendars = await google.listCalendars({
      kind: 'room',
      email: room?.email as string,
      providerId: 'x',
    });
    expect(roomCalendars).toEqual([
      expect.objectContaining({ providerCalendarId: room?.email, primary: true }),
    ]);
    const { tokensIssued } = await sb.control.counters();
    // The room is never a JWT subject; the admin and the user are.
    expect(tokensIssued.googleBySubject[room?.email as string]).toBeUndefined();
    expect(tokensIssued.googleBySubject[NORMAL()]).toBe(1);
  });
});

describe('Google adapter: reason codes', () => {
  it('mailbox_not_enabled for a user without Calendar', async () => {
    expect(await reasonOf(google.listCalendars({ kind: 'user', email: NO_MAILBOX(), providerId: 'x' }))).toBe(
      'mailbox_not_enabled',
    );
  });

  it('user_not_found for an unknown subject', async () => {
    expect(
      await reasonOf(google.listCalendars({ kind: 'user', email: `ghost@${domain}`, providerId: 'x' })),
    ).toBe('user_not_found');
  });

  it('user_suspended once a user with a cached token is suspended', async () => {
    await google.listCalendars({ kind: 'user', email: SUSPENDED(), providerId: 'x' });
    await sb.control.updateUser('google', SUSPENDED(), { suspended: true });
    try {
      const err = await google
        .listCalendars({ kind: 'user', email: SUSPENDED(), providerId: 'x' })
        .catch((e) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ reason: 'user_suspended', retryable: false, provider: 'google' });
      const found = await google.findMailbox(SUSPENDED());
      expect(found.suspended).toBe(true);
    } finally {
      await sb.control.updateUser('google', SUSPENDED(), { suspended: false });
    }
  });

  it('delegation_not_granted when domain-wide delegation is revoked, for the admin and for users', async () => {
    await google.verify(); // the admin's token is cached
    await sb.control.setDelegation({ granted: false });
    try {
      expect(await reasonOf(google.verify())).toBe('delegation_not_granted');
      expect(await reasonOf(google.listCalendars({ kind: 'user', email: NORMAL(), providerId: 'x' }))).toBe(
        'delegation_not_granted',
      );
    } finally {
      await sb.control.setDelegation({ granted: true });
    }
    expect((await google.verify()).usersOnFirstPage).toBeGreaterThan(0);
  });

  it('invalid_credentials when the key is revoked', async () => {
    await sb.control.setGoogleKey({ revoked: true });
    try {
      const fresh = providerFor(googleCredentials(sb), sandboxUrls(sb));
      const err = await fresh.verify().catch((e: unknown) => e);
      expect(err).toMatchObject({ reason: 'invalid_credentials', retryable: false });
      await fresh.close();
    } finally {
      await sb.control.setGoogleKey({ revoked: false });
    }
  });

  it('insufficient_permissions when the configured admin is not an admin', async () => {
    const notAdmin = providerFor({ ...googleCredentials(sb), adminEmail: NORMAL() }, sandboxUrls(sb));
    expect(await reasonOf(notAdmin.listUsersPage(null))).toBe('insufficient_permissions');
    await notAdmin.close();
  });

  it('provider_unavailable on 5xx, with exactly one attempt (gaxios retries are off)', async () => {
    await sb.control.resetCounters();
    await sb.control.setFaults({ rate500: 1, tokenEndpoints: false });
    const err = await google.listUsersPage(null).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'provider_unavailable', retryable: true });
    const { calls } = await sb.control.counters();
    const attempts = Object.entries(calls)
      .filter(([k]) => k.includes('/admin/directory/v1/users'))
      .reduce((n, [, v]) => n + v, 0);
    expect(attempts).toBe(1);
  });

  it('provider_unavailable on a timeout, and when the caller aborts', async () => {
    await sb.control.setFaults({ rateTimeout: 1, timeoutMs: 5000, tokenEndpoints: false });
    const quick = providerFor(googleCredentials(sb), sandboxUrls(sb), { timeoutMs: 300 });
    await quick.verify().catch(() => {}); // token fetched (token endpoint not faulted)
    const t0 = Date.now();
    expect(await reasonOf(quick.listUsersPage(null))).toBe('provider_unavailable');
    expect(Date.now() - t0).toBeLessThan(2000);
    const ctrl = new AbortController();
    const pending = google.listUsersPage(null, { signal: ctrl.signal });
    setTimeout(() => ctrl.abort(), 50);
    expect(await reasonOf(pending)).toBe('provider_unavailable');
    await quick.close();
  });

  it('rate_limited with Retry-After when 429s outlast the in-process budget', async () => {
    await sb.control.setFaults({ rate429: 1, retryAfterSecs: 5, tokenEndpoints: false });
    const impatient = providerFor(googleCredentials(sb), sandboxUrls(sb), {
      rateLimitMaxWaitMs: 1000,
    });
    const err = await impatient.listUsersPage(null).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 5000 });
    await impatient.close();
  });

  it('429 storms are waited out, not failures', async () => {
    await sb.control.resetCounters();
    await sb.control.setFaults({ rate429: 0.3, retryAfterSecs: 0.05, tokenEndpoints: true });
    const patient = providerFor(googleCredentials(sb), sandboxUrls(sb), { rateLimitRetries: 10 });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 2 === 0
          ? patient.listUsersPage(null, { pageSize: 10 }).then((p) => p.items.length)
          : patient.listCalendars({ kind: 'user', email: NORMAL(), providerId: 'x' }).then((c) => c.length),
      ),
    );
    expect(results.every((n) => n > 0)).toBe(true);
    const { faultsInjected } = await sb.control.counters();
    expect(faultsInjected['429']).toBeGreaterThan(3);
    await patient.close();
  });
});
