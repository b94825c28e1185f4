import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { NoopLimiter } from '../../src/providers/limiter.js';
import type { DirectoryProvider, DirectoryRoom, DirectoryUser, Mailbox } from '../../src/providers/types.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { microsoftCredentials, providerFor, reasonOf, sandboxUrls } from './helpers.js';

// The real @azure/msal-node + @microsoft/microsoft-graph-client against the sandbox over plain HTTP.
let sb: Sandbox;
let ms: DirectoryProvider;
let domain: string;

const NORMAL = () => `normal.user@${domain}`;
const TO_SUSPEND = () => `to.suspend@${domain}`;
const NO_MAILBOX = () => `no.mailbox@${domain}`;

beforeAll(async () => {
  sb = await startSandbox({ seed: 'microsoft-adapter', google: false, microsoft: { users: 120, rooms: 15 } });
  domain = sb.microsoft?.domain as string;
  await sb.control.addUser('microsoft', { email: NORMAL(), name: 'Normal User' });
  await sb.control.addUser('microsoft', { email: TO_SUSPEND(), name: 'Soon Suspended' });
  await sb.control.addUser('microsoft', { email: NO_MAILBOX(), name: 'No Mailbox', mailbox: false });
  ms = providerFor(microsoftCredentials(sb), sandboxUrls(sb));
});

afterAll(async () => {
  await ms?.close();
  await sb?.close();
});

beforeEach(async () => {
  await sb.control.setFaults({ rate429: 0, rate500: 0, rate503: 0, rateTimeout: 0, latencyMs: 0 });
});

async function all<T>(
  list: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<{ items: T[]; pages: number; cursors: string[] }> {
  const items: T[] = [];
  const cursors: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: { items: T[]; nextCursor: string | null } = await list(cursor);
    items.push(...page.items);
    cursor = page.nextCursor;
    if (cursor) {
      cursors.push(cursor);
    }
    pages += 1;
  } while (cursor);
  return { items, pages, cursors };
}

describe('Microsoft adapter: operations', () => {
  it('verifies the credential with a token and one /users page', async () => {
    expect((await ms.verify()).usersOnFirstPage).toBeGreaterThan(0);
  });

  it('lists users with @odata.nextLink cursors, telling shared and room mailboxes apart (no room twice)', async () => {
    const {
      items: users,
      pages,
      cursors,
    } = await all<DirectoryUser>((c) => ms.listUsersPage(c, { pageSize: 40 }));
    const truth = await sb.control.listUsers('microsoft', { limit: 200 });
    expect(users).toHaveLength(truth.total);
    expect(pages).toBeGreaterThanOrEqual(4);
    // Cursors are Graph links on Graph's own origin, whatever MICROSOFT_GRAPH_URL is.
    expect(cursors.every((c) => c.startsWith('https://graph.microsoft.com/v1.0/users?'))).toBe(true);
    const byEmail = new Map(truth.users.map((u) => [u.email.toLowerCase(), u]));
    for (const u of users) {
      const t = byEmail.get(u.email.toLowerCase());
      expect(t, u.email).toBeDefined();
      expect(u.kind).toBe(t?.shared ? 'shared_mailbox' : 'user');
      expect(u.suspended).toBe(t?.suspended);
      expect(u.hasMailbox).toBe(t?.mailbox);
    }
    expect(users.some((u) => u.kind === 'shared_mailbox')).toBe(true);
    const { items: rooms } = await all<DirectoryRoom>((c) => ms.listRoomsPage(c, { pageSize: 4 }));
    expect(rooms).toHaveLength(15);
    const roomEmails = new Set(rooms.map((r) => r.email.toLowerCase()));
    expect(users.filter((u) => roomEmails.has(u.email.toLowerCase()))).toEqual([]);
  });

  it('lists rooms from /places with capacity, building and floor', async () => {
    const page = await ms.listRoomsPage(null, { pageSize: 10 });
    expect(page.items).toHaveLength(10);
    expect(page.nextCursor).not.toBeNull();
    const rest = await ms.listRoomsPage(page.nextCursor, { pageSize: 10 });
    expect(rest.items).toHaveLength(5);
    expect(rest.nextCursor).toBeNull();
    expect([...page.items, ...rest.items].some((r) => r.capacity !== null && r.building && r.floor)).toBe(
      true,
    );
  });

  it('finds a user, a shared mailbox and a room by email; user_not_found otherwise', async () => {
    expect(await ms.findMailbox(NORMAL())).toMatchObject({ kind: 'user', email: NORMAL(), suspended: false });
    const users = await ms.listUsersPage(null, { pageSize: 999 });
    const shared = users.items.find((u) => u.kind === 'shared_mailbox') as DirectoryUser;
    expect(await ms.findMailbox(shared.email)).toMatchObject({ kind: 'shared_mailbox', suspended: false });
    const rooms = await ms.listRoomsPage(null, { pageSize: 20 });
    const room = rooms.items[3] as DirectoryRoom;
    expect(await ms.findMailbox(room.email.toUpperCase())).toMatchObject({ kind: 'room', email: room.email });
    expect(await reasonOf(ms.findMailbox(`nobody@${domain}`))).toBe('user_not_found');
  });

  it("lists a user's, a shared mailbox's and a room's calendars, primary first", async () => {
    const user = await ms.findMailbox(NORMAL());
    const calendars = await ms.listCalendars(user);
    expect(calendars[0]).toMatchObject({ primary: true, readonly: false, name: 'Calendar' });
    const rooms = await ms.listRoomsPage(null, { pageSize: 1 });
    const room = await ms.findMailbox(rooms.items[0]?.email as string);
    expect(await ms.listCalendars(room)).toEqual([expect.objectContaining({ primary: true })]);
    const { tokensIssued } = await sb.control.counters();
    expect(tokensIssued.microsoft).toBe(1);
  });
});

describe('Microsoft adapter: JSON batches', () => {
  it('mailbox reads made together share Graph $batch round trips, each still one limiter call, with the same answers and reasons as one by one', async () => {
    const truth = await sb.control.listUsers('microsoft', { limit: 200 });
    const boxes: Pick<Mailbox, 'kind' | 'email' | 'providerId'>[] = [
      ...truth.users.map((u) => ({ kind: 'user' as const, email: u.email, providerId: u.id })),
      { kind: 'user', email: `ghost@${domain}`, providerId: '' },
    ];
    const read = async (p: DirectoryProvider) =>
      Promise.all(
        boxes.map((b) =>
          p.listCalendars(b).then(
            (cals) => cals.map((c) => c.providerCalendarId),
            (err: unknown) => `failed: ${(err as { reason?: string }).reason}`,
          ),
        ),
      );
    const oneByOne = providerFor(microsoftCredentials(sb), sandboxUrls(sb), { graphBatchSize: 1 });
    const limiter = new NoopLimiter();
    const batched = providerFor(microsoftCredentials(sb), sandboxUrls(sb), { limiter, graphBatchSize: 20 });
    try {
      const c0 = await sb.control.counters();
      const alone = await read(oneByOne);
      const c1 = await sb.control.counters();
      const together = await read(batched);
      const c2 = await sb.control.counters();
      expect(together).toEqual(alone);
      expect(alone).toContain('failed: user_not_found');
      expect(alone.filter((a) => a === 'failed: mailbox_not_enabled').length).toBeGreaterThan(0);
      expect(c1.batches.envelopes - c0.batches.envelopes).toBe(0);
      const envelopes = c2.batches.envelopes - c1.batches.envelopes;
      expect(c2.batches.requests - c1.batches.requests).toBe(boxes.length);
      expect(envelopes).toBeGreaterThanOrEqual(Math.ceil(boxes.length / 20));
      expect(envelopes).toBeLessThan(boxes.length / 4);
      // The limiter saw every request, as Graph counts them (plus the room index's reads).
      expect(limiter.stats().acquired).toBeGreaterThanOrEqual(boxes.length);
    } finally {
      await Promise.all([oneByOne.close(), batched.close()]);
    }
  });

  it('MICROSOFT_GRAPH_BATCHING=when-busy: reads go alone while the machine has CPU to spare, in batches while it is short', async () => {
    const users = (await sb.control.listUsers('microsoft', { limit: 40 })).users;
    let short = false;
    const p = providerFor(microsoftCredentials(sb), sandboxUrls(sb), {
      graphBatchSize: 4,
      graphBatching: () => short,
    });
    const readAll = () =>
      Promise.all(
        users.map((u) =>
          p.listCalendars({ kind: 'user', email: u.email, providerId: u.id }).then(
            () => 'ok',
            () => 'failed',
          ),
        ),
      );
    try {
      const c0 = await sb.control.counters();
      const alone = await readAll();
      const c1 = await sb.control.counters();
      short = true;
      const together = await readAll();
      const c2 = await sb.control.counters();
      expect(together).toEqual(alone);
      expect(c1.batches.envelopes - c0.batches.envelopes).toBe(0);
      expect(c2.batches.requests - c1.batches.requests).toBe(users.length);
      expect(c2.batches.envelopes - c1.batches.envelopes).toBeGreaterThanOrEqual(users.length / 4);
    } finally {
      await p.close();
    }
  });

  it('a throttled request in a batch is rate_limited with its own Retry-After; the rest of the batch is answered', async () => {
    const truth = await sb.control.listUsers('microsoft', { limit: 30 });
    const boxes = truth.users
      .filter((u) => u.mailbox && !u.accessDenied)
      .slice(0, 10)
      .map((u) => ({ kind: 'user' as const, email: u.email, providerId: u.id }));
    await sb.control.setFaults({ rate429: 0.5, retryAfterSecs: 7 });
    const p = providerFor(microsoftCredentials(sb), sandboxUrls(sb), { rateLimitRetries: 0 });
    try {
      const outcomes = await Promise.all(
        boxes.map((b) =>
          p.listCalendars(b).then(
            () => 'ok',
            (err: unknown) => {
              const e = err as { reason?: string; retryAfterMs?: number };
              return `${e.reason} ${e.retryAfterMs}`;
            },
          ),
        ),
      );
      expect(outcomes).toContain('ok');
      expect(outcomes).toContain('rate_limited 7000');
      expect(outcomes.every((o) => o === 'ok' || o === 'rate_limited 7000')).toBe(true);
    } finally {
      await p.close();
    }
  });
});

describe('Microsoft adapter: the app-only token', () => {
  it('is held as a value until 5 minutes before it expires, then fetched anew', async () => {
    const p = providerFor(microsoftCredentials(sb), sandboxUrls(sb));
    const box = await ms.findMailbox(NORMAL());
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const issued = async () => (await sb.control.counters()).tokensIssued.microsoft;
      const before = await issued();
      await p.listCalendars(box);
      await p.listCalendars(box);
      expect(await issued()).toBe(before + 1);
      vi.setSystemTime(Date.now() + 54 * 60_000); // the sandbox's tokens live an hour
      await p.listCalendars(box);
      expect(await issued()).toBe(before + 1);
      vi.setSystemTime(Date.now() + 2 * 60_000);
      await p.listCalendars(box);
      expect(await issued()).toBe(before + 2);
    } finally {
      vi.useRealTimers();
      await p.close();
    }
  });
});

describe('Microsoft adapter: reason codes', () => {
  it('mailbox_not_enabled for a user without an Exchange Online mailbox', async () => {
    const user = await ms.findMailbox(NO_MAILBOX());
    expect(user.hasMailbox).toBe(false);
    expect(await reasonOf(ms.listCalendars(user))).toBe('mailbox_not_enabled');
  });

  it('user_not_found for a deleted user', async () => {
    const email = `deleted.soon@${domain}`;
    await sb.control.addUser('microsoft', { email, name: 'Deleted Soon' });
    const user = await ms.findMailbox(email);
    await sb.control.deleteUser('microsoft', email);
    expect(await reasonOf(ms.listCalendars(user))).toBe('user_not_found');
    expect(await reasonOf(ms.findMailbox(email))).toBe('user_not_found');
  });

  it('a blocked (suspended) account is reported as suspended by the directory', async () => {
    await sb.control.updateUser('microsoft', TO_SUSPEND(), { suspended: true });
    try {
      expect(await ms.findMailbox(TO_SUSPEND())).toMatchObject({ kind: 'user', suspended: true });
    } finally {
      await sb.control.updateUser('microsoft', TO_SUSPEND(), { suspended: false });
    }
  });

  it('insufficient_permissions for a mailbox outside the application access policy', async () => {
    await sb.control.updateUser('microsoft', NORMAL(), { accessDenied: true });
    try {
      expect(await reasonOf(ms.listCalendars(await ms.findMailbox(NORMAL())))).toBe(
        'insufficient_permissions',
      );
    } finally {
      await sb.control.updateUser('microsoft', NORMAL(), { accessDenied: false });
    }
  });

  it('invalid_credentials for a wrong client secret (AADSTS7000215)', async () => {
    const wrong = providerFor(microsoftCredentials(sb, { clientSecret: 'not-the-secret' }), sandboxUrls(sb));
    const err = await wrong.verify().catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'invalid_credentials', retryable: false });
    expect((err as { context: { providerCode: string } }).context.providerCode).toBe('AADSTS7000215');
    await wrong.close();
  });

  it('consent_revoked when admin consent is withdrawn, whichever way Entra shows it', async () => {
    for (const mode of ['consent_required', 'service_principal_missing', 'roles_missing'] as const) {
      const p = providerFor(microsoftCredentials(sb), sandboxUrls(sb));
      await p.verify(); // a token is cached from before the revocation
      await sb.control.setConsent({ granted: false, mode });
      try {
        expect(await reasonOf(p.verify()), mode).toBe('consent_revoked');
        const user = { kind: 'user' as const, email: NORMAL(), providerId: NORMAL() };
        expect(await reasonOf(p.listCalendars(user)), mode).toBe('consent_revoked');
      } finally {
        await sb.control.setConsent({ granted: true });
      }
      await p.close();
    }
  });

  it('provider_unavailable on 5xx and timeouts, with one attempt each (Graph RetryHandler is off)', async () => {
    await ms.verify();
    await sb.control.resetCounters();
    await sb.control.setFaults({ rate503: 1, retryAfterSecs: 0, tokenEndpoints: false });
    expect(await reasonOf(ms.listUsersPage(null))).toBe('provider_unavailable');
    const { calls } = await sb.control.counters();
    expect(calls['GET /v1.0/users 503']).toBe(1);
    await sb.control.setFaults({ rate503: 0, rateTimeout: 1, timeoutMs: 5000, tokenEndpoints: false });
    const quick = providerFor(microsoftCredentials(sb), sandboxUrls(sb), { timeoutMs: 300 });
    const t0 = Date.now();
    expect(await reasonOf(quick.listUsersPage(null))).toBe('provider_unavailable');
    expect(Date.now() - t0).toBeLessThan(2000);
    await quick.close();
  });

  it('rate_limited with retryAfterMs from Retry-After when 429s outlast the budget', async () => {
    await sb.control.setFaults({ rate429: 1, retryAfterSecs: 7, tokenEndpoints: false });
    const impatient = providerFor(microsoftCredentials(sb), sandboxUrls(sb), { rateLimitMaxWaitMs: 1000 });
    const err = await impatient.listUsersPage(null).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'rate_limited', retryable: true, retryAfterMs: 7000 });
    await impatient.close();
  });

  it('429 storms are waited out, not failures (token endpoint included)', async () => {
    await sb.control.resetCounters();
    await sb.control.setFaults({ rate429: 0.3, retryAfterSecs: 0.05, tokenEndpoints: true });
    const patient = providerFor(microsoftCredentials(sb), sandboxUrls(sb), { rateLimitRetries: 10 });
    const user = await patient.findMailbox(NORMAL());
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        i % 2 === 0
          ? patient.listUsersPage(null, { pageSize: 10 }).then((p) => p.items.length)
          : patient.listCalendars(user).then((c) => c.length),
      ),
    );
    expect(results.every((n) => n > 0)).toBe(true);
    expect((await sb.control.counters()).faultsInjected['429']).toBeGreaterThan(3);
    await patient.close();
  });
});
