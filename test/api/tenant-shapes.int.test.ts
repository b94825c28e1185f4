import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema/accounts.js';
import { directoryEntries } from '../../src/db/schema/directory-entries.js';
import type { SandboxRoom, SandboxUser } from '../../src/sandbox/index.js';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, type RegisteredSa, registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { keysMatching } from '../helpers/redis.js';
import { api, startRun, waitForRun } from '../helpers/runs.js';

const EXTRA = { google: 'acme-eu.example.org', microsoft: 'contoso-eu.example.org' } as const;
const t = useTestApp({
  sandbox: {
    google: { users: 30, rooms: 12, shapes: true, domains: [EXTRA.google] },
    microsoft: { users: 40, rooms: 12, shapes: true, domains: [EXTRA.microsoft] },
  },
});
const receiver = useReceiver();
const db = () => t.runtime.app.db;

type Provider = 'google' | 'microsoft';
let app: { clientId: string; clientSecret: string; applicationId: string };
const sas = {} as Record<Provider, RegisteredSa>;
let msUsers: SandboxUser[] = [];

beforeAll(async () => {
  app = await t.createApplication();
  sas.google = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
  sas.microsoft = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
  msUsers = (await t.sandbox.control.listUsers('microsoft', { offset: 0, limit: 100 })).users;
}, 60_000);

function register(body: Record<string, unknown>) {
  return fetch(`${t.url}/v1/service_accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.clientSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function credentialsOf(provider: Provider, domain: string) {
  const sb = t.sandbox;
  return provider === 'google'
    ? {
        provider,
        domain,
        admin_email: sb.google?.adminEmail,
        credentials: sb.google?.serviceAccountKey,
      }
    : {
        provider,
        domain,
        tenant_id: sb.microsoft?.tenantId,
        client_id: sb.microsoft?.clientId,
        client_secret: sb.microsoft?.clientSecret,
      };
}

/** A plain, usable Microsoft user of the sandbox with the given shape. */
function msUser(pick: (u: SandboxUser) => boolean): SandboxUser {
  const u = msUsers.find(
    (x) => pick(x) && !x.suspended && x.mailbox && !x.shared && !x.accessDenied && !x.admin && !x.guest,
  );
  if (!u) {
    throw new Error('no such sandbox user');
  }
  return u;
}

describe('registration checks the domain against the organization’s domains', () => {
  for (const provider of ['google', 'microsoft'] as const) {
    it(`${provider}: a domain the tenant does not have is 422 naming its domains and the fix; one of its other domains registers`, async () => {
      const wrong = await register(credentialsOf(provider, 'not-ours.example.com'));
      const body = await wrong.text();
      expect(wrong.status, body).toBe(422);
      const json = JSON.parse(body) as { errors: Record<string, { key: string; description: string }[]> };
      expect(json.errors.domain?.[0]?.key).toBe('errors.domain_not_in_directory');
      const description = json.errors.domain?.[0]?.description ?? '';
      expect(description).toContain('not-ours.example.com is not a domain of this organization');
      expect(description).toContain(EXTRA[provider]);
      expect(description).toMatch(provider === 'google' ? /Google Admin console/ : /Entra admin center/);

      const other = await register(credentialsOf(provider, EXTRA[provider].toUpperCase()));
      expect(other.status, await other.text()).toBe(201);
    });
  }
});

describe('Microsoft lookups by address', () => {
  it('finds a user whose UPN is not its mail, by mail (Graph answers /users/{mail} 404)', async () => {
    const user = msUser((u) => u.upn !== undefined && u.upn !== u.email);
    const direct = await t.sandbox.control.counters();
    const account = await authorizeAccount(t, receiver, app, sas.microsoft, user.email);
    expect(account.sub).toMatch(/^acc_/);
    const calls = (await t.sandbox.control.counters()).calls;
    // The UPN lookup missed, then the advanced-query filter found the user.
    expect((calls['GET /v1.0/users/:id 404'] ?? 0) - (direct.calls['GET /v1.0/users/:id 404'] ?? 0)).toBe(1);
    expect(
      (calls['GET /v1.0/users 200'] ?? 0) - (direct.calls['GET /v1.0/users 200'] ?? 0),
    ).toBeGreaterThanOrEqual(1);
  });

  it('finds a user by a secondary proxy address', async () => {
    const user = msUser((u) => (u.proxyAddresses ?? []).some((p) => p.startsWith('smtp:')));
    const alias = (user.proxyAddresses ?? []).find((p) => p.startsWith('smtp:'))?.slice(5) ?? '';
    expect(alias).not.toBe(user.email.toLowerCase());
    const account = await authorizeAccount(t, receiver, app, sas.microsoft, alias);
    const [row] = await db().select().from(accounts).where(eq(accounts.id, account.sub));
    expect(row?.status).toBe('active');
    expect(row?.kind).toBe('user');
    expect(row?.name).toBe(user.displayName);
  });

  it('the sandbox refuses the mail-or-proxy filter without the advanced query parameters, as Graph does', async () => {
    const token = await fetch(`${t.sandbox.url}/${t.sandbox.microsoft?.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: t.sandbox.microsoft?.clientId ?? '',
        client_secret: t.sandbox.microsoft?.clientSecret ?? '',
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    const { access_token } = (await token.json()) as { access_token: string };
    const user = msUser((u) => (u.proxyAddresses ?? []).some((p) => p.startsWith('smtp:')));
    const alias = (user.proxyAddresses ?? []).find((p) => p.startsWith('smtp:'))?.slice(5) ?? '';
    const filter = `mail eq '${alias}' or proxyAddresses/any(p:p eq 'smtp:${alias}')`;
    const url = `${t.sandbox.url}/v1.0/users?$filter=${encodeURIComponent(filter)}`;
    const plain = await fetch(url, { headers: { authorization: `Bearer ${access_token}` } });
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { error: { code: string } }).error.code).toBe('Request_UnsupportedQuery');
    const advanced = await fetch(`${url}&$count=true`, {
      headers: { authorization: `Bearer ${access_token}`, consistencylevel: 'eventual' },
    });
    const body = (await advanced.json()) as { '@odata.count': number; value: { id: string }[] };
    expect(advanced.status).toBe(200);
    expect(body['@odata.count']).toBe(1);
    expect(body.value[0]?.id).toBe(user.id);
  });
});

describe('guests', () => {
  it('are skipped by a run with the guest_user reason, and an authorization for one says so', async () => {
    const guests = msUsers.filter((u) => u.guest);
    expect(guests.length).toBeGreaterThan(0);
    const run = await startRun(t, sas.microsoft.access_token, { include: ['users'] });
    const done = await waitForRun(t, sas.microsoft.access_token, run.id, 60_000);
    expect(done.skipped_by_reason).toEqual(
      expect.arrayContaining([{ error_key: 'guest_user', count: guests.length }]),
    );
    const items = await api<{ items: { email: string; status: string; error_key: string | null }[] }>(
      t,
      sas.microsoft.access_token,
      'GET',
      `/v1/provisioning_runs/${run.id}/items?status=skipped`,
    );
    const guestItems = items.json.items.filter((i) => i.error_key === 'guest_user');
    expect(guestItems.map((i) => i.email.toLowerCase()).sort()).toEqual(
      guests.map((g) => g.email.toLowerCase()).sort(),
    );

    const guest = guests[0] as SandboxUser;
    const callbackUrl = `${receiver.url}/guest/${Math.random().toString(36).slice(2)}`;
    const res = await fetch(`${t.url}/v1/service_account_authorizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sas.microsoft.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        email: guest.email,
        callback_url: callbackUrl,
        scope: 'read_write',
        state: 'g',
      }),
    });
    expect(res.status).toBe(202);
    const hit = await receiver.waitFor((r) => callbackUrl.endsWith(r.path));
    expect((hit.json as { authorization: { error_key?: string } }).authorization.error_key).toBe(
      'guest_user',
    );
  });
});

type Resource = { email: string; name: string; building: string | null; resource_type: string };

async function resources(provider: Provider): Promise<Resource[]> {
  const r = await api<{ resources: Resource[] }>(
    t,
    sas[provider].access_token,
    'GET',
    '/v1/resources?include_details=true',
  );
  expect(r.status).toBe(200);
  return r.json.resources;
}

describe('equipment and buildings', () => {
  it('Google: resourceCategory OTHER is equipment, CONFERENCE_ROOM a room; building is the building name, not its id', async () => {
    const { rooms } = await t.sandbox.control.listRooms('google', { offset: 0, limit: 100 });
    const listed = await resources('google');
    expect(listed).toHaveLength(rooms.length);
    for (const room of rooms as SandboxRoom[]) {
      const r = listed.find((x) => x.email === room.email);
      expect(r?.resource_type, room.email).toBe(room.category === 'OTHER' ? 'equipment' : 'room');
      expect(r?.building ?? null).toBe(room.building);
      if (room.building !== null) {
        expect(room.buildingId).toMatch(/^bld-/);
        expect(r?.building).not.toBe(room.buildingId);
      }
    }
    expect(listed.some((r) => r.resource_type === 'equipment')).toBe(true);
  });

  it('Microsoft: equipment mailboxes (not in /places) are listed as equipment; rooms as rooms', async () => {
    const { rooms } = await t.sandbox.control.listRooms('microsoft', { offset: 0, limit: 100 });
    const equipment = (rooms as SandboxRoom[]).filter((r) => r.category === 'OTHER');
    expect(equipment.length).toBeGreaterThan(0);
    const listed = await resources('microsoft');
    expect(listed).toHaveLength(rooms.length);
    for (const e of equipment) {
      expect(listed.find((x) => x.email.toLowerCase() === e.email.toLowerCase())?.resource_type).toBe(
        'equipment',
      );
    }
    expect(listed.filter((r) => r.resource_type === 'room')).toHaveLength(rooms.length - equipment.length);
    // Each mailboxSettings read is counted as an Outlook call of that mailbox (Graph's per-mailbox
    // limits), not against the tenant's directory budget that the listing pages need.
    const prefix = `${t.runtime.app.config.redis.queuePrefix}:quota`;
    const sa = sas.microsoft.service_account_id;
    for (const e of equipment) {
      const keys = await keysMatching(
        t.runtime.deps.redis(),
        `${prefix}:microsoft.mailbox:w*:${sa}:${e.email.toLowerCase()}`,
      );
      expect(keys, e.email).toHaveLength(1);
    }
  });

  it('directory entries store the type and the building name; equipment is not listed among users', async () => {
    for (const provider of ['google', 'microsoft'] as const) {
      const run = await startRun(t, sas[provider].access_token, { include: ['rooms'] });
      expect((await waitForRun(t, sas[provider].access_token, run.id, 60_000)).status).toMatch(/^completed/);
    }
    const { rooms } = await t.sandbox.control.listRooms('google', { offset: 0, limit: 100 });
    const rows = await db()
      .select()
      .from(directoryEntries)
      .where(
        and(
          eq(directoryEntries.serviceAccountId, sas.google.service_account_id),
          eq(directoryEntries.kind, 'room'),
        ),
      );
    expect(rows).toHaveLength(rooms.length);
    for (const row of rows) {
      const room = (rooms as SandboxRoom[]).find((r) => r.email === row.email);
      expect(row.resourceType).toBe(room?.category === 'OTHER' ? 'equipment' : 'room');
      expect(row.building).toBe(room?.building ?? null);
    }
    const ms = await db()
      .select()
      .from(directoryEntries)
      .where(eq(directoryEntries.serviceAccountId, sas.microsoft.service_account_id));
    const msRooms = (await t.sandbox.control.listRooms('microsoft', { offset: 0, limit: 100 }))
      .rooms as SandboxRoom[];
    for (const e of msRooms.filter((r) => r.category === 'OTHER')) {
      const entry = ms.find((x) => x.emailLower === e.email.toLowerCase());
      expect(entry?.kind).toBe('room');
      expect(entry?.resourceType).toBe('equipment');
    }
  });
});
