import Cronofy from 'cronofy';
import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { aadOf } from '../../src/db/queries/encrypted-columns.js';
import { accounts } from '../../src/db/schema/accounts.js';
import { auditEvents } from '../../src/db/schema/audit-events.js';
import { profiles } from '../../src/db/schema/profiles.js';
import { serviceAccounts } from '../../src/db/schema/service-accounts.js';
import { tokens } from '../../src/db/schema/tokens.js';
import { ProviderError } from '../../src/providers/types.js';
import { syncDirectoryNow } from '../../src/services/directory-sync.js';
import { sweepDueProfiles } from '../../src/services/profiles.js';
import { breakServiceAccount, sweepHealthChecks } from '../../src/services/service-account-health.js';
import { useTestApp } from '../helpers/app.js';
import {
  authorizeAccount,
  type RegisteredSa,
  registerSandboxServiceAccount,
  usableUsers,
} from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { eventually, makeDue } from '../scheduler/helpers.js';

const t = useTestApp({
  sandbox: { google: { users: 12, rooms: 2 }, microsoft: { users: 12, rooms: 2 } },
});
const receiver = useReceiver();
const db = () => t.runtime.app.db;

type Provider = 'google' | 'microsoft';
let app: { clientId: string; clientSecret: string; applicationId: string };
let other: { clientId: string; clientSecret: string };
const sas = {} as Record<Provider, RegisteredSa>;
/** The Account each provider's Service Account got before its credential changed. */
const held = {} as Record<
  Provider,
  { email: string; access_token: string; refresh_token: string; sub: string }
>;

beforeAll(async () => {
  app = await t.createApplication();
  other = await t.createApplication();
  for (const provider of ['google', 'microsoft'] as const) {
    sas[provider] = await registerSandboxServiceAccount(t, provider, app.clientSecret);
    const [user] = await usableUsers(t, provider, 1);
    const email = user?.email ?? '';
    const account = await authorizeAccount(t, receiver, app, sas[provider], email);
    held[provider] = { email, ...account };
  }
}, 60_000);

function patch(id: string, body: unknown, secret = app.clientSecret) {
  return fetch(`${t.url}/v1/service_accounts/${id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

async function saRow(id: string) {
  const [row] = await db().select().from(serviceAccounts).where(eq(serviceAccounts.id, id));
  if (!row) {
    throw new Error(`no service account ${id}`);
  }
  return row;
}

/** Everything a credential change must leave alone: Accounts, Profiles and their tokens. */
async function untouched(id: string) {
  const accs = await db().select().from(accounts).where(eq(accounts.serviceAccountId, id));
  const pros = await db()
    .select({ id: profiles.id, connected: profiles.connected, updatedAt: profiles.updatedAt })
    .from(profiles)
    .innerJoin(accounts, eq(profiles.accountId, accounts.id))
    .where(eq(accounts.serviceAccountId, id));
  const toks = await db()
    .select({ id: tokens.id, revokedAt: tokens.revokedAt, accountId: tokens.accountId })
    .from(tokens)
    .innerJoin(accounts, eq(tokens.accountId, accounts.id))
    .where(eq(accounts.serviceAccountId, id));
  return { accs, pros, toks };
}

function sdk(accessToken: string) {
  const client = new Cronofy({ access_token: accessToken });
  client.urls.api = t.url;
  return client;
}

async function auditOf(id: string) {
  return db()
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.subjectId, id), eq(auditEvents.action, 'service_account.updated')));
}

describe('PATCH /v1/service_accounts/{id}: the credential changes in place', () => {
  it('Google: a rotated key is refused live (422, nothing stored), the new key replaces it; Accounts, Profiles and tokens untouched', async () => {
    const id = sas.google.service_account_id;
    const oldKey = t.sandbox.google?.serviceAccountKey;
    const before = await untouched(id);
    const rowBefore = await saRow(id);
    expect(before.accs.length).toBe(1);

    // The key is rotated in the console: the old one stops verifying.
    const { serviceAccountKey: newKey } = await t.sandbox.control.setGoogleKey({ rotate: true });
    const refused = await patch(id, { credentials: oldKey });
    const refusedBody = await refused.text();
    expect(refused.status, refusedBody).toBe(422);
    expect(refusedBody).toContain('errors.invalid_credentials');
    expect((await saRow(id)).credentialsEncrypted).toBe(rowBefore.credentialsEncrypted);
    expect(await auditOf(id)).toHaveLength(0);

    const ok = await patch(id, { credentials: JSON.stringify(newKey) });
    const okBody = await ok.text();
    expect(ok.status, okBody).toBe(200);
    const view = JSON.parse(okBody).service_account;
    expect(view.service_account_id).toBe(id);
    expect(view.credential_changed_at).toEqual(expect.any(String));
    const rowAfter = await saRow(id);
    expect(rowAfter.credentialsEncrypted).not.toBe(rowBefore.credentialsEncrypted);
    const stored = JSON.parse(
      t.runtime.app.keyring.decrypt(rowAfter.credentialsEncrypted, aadOf('service_accounts', rowAfter.id)),
    );
    expect(stored.key.private_key_id).toBe(newKey.private_key_id);

    expect(await untouched(id)).toEqual(before);
    const count = await db()
      .select()
      .from(serviceAccounts)
      .where(eq(serviceAccounts.applicationId, app.applicationId));
    expect(count).toHaveLength(2);
    // The Account's redeemed tokens still work through the official SDK, and its refresh token.
    const info = await sdk(held.google.access_token).userInfo();
    expect(info.sub).toBe(held.google.sub);
    const saInfo = await sdk(sas.google.access_token).userInfo();
    expect(saInfo.sub).toBe(id);

    const [event] = await auditOf(id);
    expect(event?.actor).toBe(`api:${app.clientId}`);
    expect(event?.data).toMatchObject({ fields: ['credentials'], credential_replaced: true });
    expect(JSON.stringify(event?.data)).not.toContain('PRIVATE KEY');
  });

  it('Microsoft: a wrong secret is 422 with the provider reason and leaves the stored one; the rotated secret is taken', async () => {
    const id = sas.microsoft.service_account_id;
    const rowBefore = await saRow(id);
    const before = await untouched(id);
    const { clientSecret } = await t.sandbox.control.setSecret({ rotate: true });

    const refused = await patch(id, { client_secret: 'Wrong8Q~not-the-secret-of-this-app-000000' });
    const refusedBody = await refused.text();
    expect(refused.status, refusedBody).toBe(422);
    expect(refusedBody).toMatch(/errors\.invalid_credentials/);
    expect(refusedBody).toMatch(/AADSTS7000215/);
    expect((await saRow(id)).credentialsEncrypted).toBe(rowBefore.credentialsEncrypted);

    const ok = await patch(id, {
      client_secret: clientSecret,
      credential_expires_at: '2027-06-01T00:00:00Z',
    });
    expect(ok.status, await ok.text()).toBe(200);
    const rowAfter = await saRow(id);
    expect(
      JSON.parse(
        t.runtime.app.keyring.decrypt(rowAfter.credentialsEncrypted, aadOf('service_accounts', rowAfter.id)),
      ).clientSecret,
    ).toBe(clientSecret);
    expect(rowAfter.credentialExpiresAt?.toISOString()).toBe('2027-06-01T00:00:00.000Z');
    // The old secret's end date as Graph gave it is forgotten, to be read again for the new one.
    expect(rowAfter.providerCredentialExpiresAt).toBeNull();
    expect(rowAfter.credentialExpiryReadAt).toBeNull();
    expect(await untouched(id)).toEqual(before);
    expect((await sdk(held.microsoft.access_token).userInfo()).sub).toBe(held.microsoft.sub);
    // The Service Account works with the new secret: it lists its rooms live.
    const rooms = await fetch(`${t.url}/v1/resources`, {
      headers: { authorization: `Bearer ${sas.microsoft.access_token}` },
    });
    expect(rooms.status).toBe(200);

    const events = await auditOf(id);
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({
      fields: ['client_secret', 'credential_expires_at'],
      credential_replaced: true,
    });
    expect(JSON.stringify(events[0]?.data)).not.toContain(clientSecret);
  });

  it('another Application gets 404, no credentials 401; bad input is 4xx naming the field', async () => {
    const id = sas.google.service_account_id;
    expect((await patch(id, { auto_provision: true }, other.clientSecret)).status).toBe(404);
    const anon = await fetch(`${t.url}/v1/service_accounts/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(anon.status).toBe(401);
    const cases: [unknown, number, RegExp][] = [
      [{}, 422, /Nothing to change/],
      [{ client_secret: 'x' }, 422, /client_secret/],
      [{ removal_delay_seconds: -1 }, 422, /removal_delay_seconds/],
      [{ removal_delay_seconds: 1.5 }, 422, /removal_delay_seconds/],
      [{ auto_provision: 'yes' }, 422, /auto_provision/],
      [{ autoprovision: true }, 422, /autoprovision/],
      [{ credentials: { type: 'service_account' } }, 422, /credentials/],
      [{ credentials: 'not json' }, 422, /credentials/],
      ['{"auto_provision": tru', 400, /./],
      [{ admin_email: 'a\u0000@example.com' }, 422, /NUL/],
      ['{"client_secret":"\\ud800"}', 422, /client_secret/],
      [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 422, /Unrecognized key/],
    ];
    for (const [body, status, match] of cases) {
      const res = await patch(id, body);
      const text = await res.text();
      expect(res.status, `${JSON.stringify(body)} → ${text}`).toBe(status);
      expect(text).toMatch(match);
    }
    expect((await patch('ser_aaaaaaaaaaaaaaaaaaaaaaaaaa', { auto_provision: true })).status).toBe(404);
    expect((await patch('nope', { auto_provision: true })).status).toBe(422);
    expect(await auditOf(id)).toHaveLength(1);
  });
});

describe('settings: the grace period and auto_provision', () => {
  it('removal_delay_seconds is stored (default 7 days) and directory sync revokes by it', async () => {
    const id = sas.google.service_account_id;
    expect((await saRow(id)).removalDelaySeconds).toBe(604_800);
    const [, user] = await usableUsers(t, 'google', 2);
    const email = user?.email ?? '';
    const account = await authorizeAccount(t, receiver, app, sas.google, email);
    // A sync stores the directory entry; then the user is deleted from the directory.
    expect(await syncDirectoryNow(t.runtime.app, id)).toMatchObject({ outcome: 'finished', revoked: 0 });
    await t.sandbox.control.deleteUser('google', email);

    // With the default grace period the removed user keeps its Account.
    const first = await syncDirectoryNow(t.runtime.app, id);
    expect(first).toMatchObject({ outcome: 'finished', removed: 1, revoked: 0 });
    const [kept] = await db().select().from(accounts).where(eq(accounts.id, account.sub));
    expect(kept?.status).toBe('active');

    const res = await patch(id, { removal_delay_seconds: 0, auto_provision: true });
    const body = JSON.parse(await res.text());
    expect(res.status).toBe(200);
    expect(body.service_account).toMatchObject({ removal_delay_seconds: 0, auto_provision: true });
    const get = await fetch(`${t.url}/v1/service_accounts/${id}`, {
      headers: { authorization: `Bearer ${app.clientSecret}` },
    });
    expect(((await get.json()) as { service_account: unknown }).service_account).toMatchObject({
      removal_delay_seconds: 0,
      auto_provision: true,
    });

    const second = await syncDirectoryNow(t.runtime.app, id);
    expect(second).toMatchObject({ outcome: 'finished', revoked: 1 });
    const [revoked] = await db().select().from(accounts).where(eq(accounts.id, account.sub));
    expect(revoked?.status).toBe('revoked');
    // The first Account (still in the directory) is untouched.
    expect((await sdk(held.google.access_token).userInfo()).sub).toBe(held.google.sub);

    const events = await auditOf(id);
    const last = events.find((e) =>
      (e.data as { fields: string[] }).fields.includes('removal_delay_seconds'),
    );
    expect(last?.data).toMatchObject({
      credential_replaced: false,
      settings: {
        removal_delay_seconds: { from: 604_800, to: 0 },
        auto_provision: { from: false, to: true },
      },
    });
  });
});

describe('the authorize page for an existing Service Account', () => {
  const REDIRECT = 'https://app.example.com/ec/callback';
  const SCOPE = 'service_account/accounts/manage service_account/resources/manage';

  async function submit(clientId: string, form: Record<string, string>) {
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: SCOPE,
      delegated_scope: 'read_write',
      state: 's1',
    });
    const page = await fetch(`${t.url}/enterprise_connect/oauth/authorize?${q}`);
    const html = await page.text();
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    return fetch(`${t.url}/enterprise_connect/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({
        ...Object.fromEntries(q),
        csrf,
        action: 'connect',
        ...form,
      }).toString(),
    });
  }

  it('replaces its credential in place (same ser_, a code for it) instead of creating another; a refused one changes nothing', async () => {
    const owner = await t.createApplication([REDIRECT]);
    const sa = await registerSandboxServiceAccount(t, 'microsoft', owner.clientSecret);
    const ms = t.sandbox.microsoft;
    const form = (secret: string) => ({
      provider: 'microsoft',
      domain: (ms?.domain ?? '').toUpperCase(),
      tenant_id: ms?.tenantId ?? '',
      ms_client_id: ms?.clientId ?? '',
      ms_client_secret: secret,
    });
    const rowBefore = await saRow(sa.service_account_id);
    const wrong = await submit(owner.clientId, form('Wrong8Q~not-the-secret-of-this-app-000000'));
    expect(wrong.status).toBe(422);
    expect(await wrong.text()).toContain('invalid_credentials');
    expect((await saRow(sa.service_account_id)).credentialsEncrypted).toBe(rowBefore.credentialsEncrypted);

    const { clientSecret } = await t.sandbox.control.setSecret({ rotate: true });
    const res = await submit(owner.clientId, form(clientSecret));
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') ?? '');
    const client = new Cronofy({ client_id: owner.clientId, client_secret: owner.clientSecret });
    client.urls.api = t.url;
    const token = await client.requestAccessToken({
      code: location.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT,
    });
    expect(token.service_account_id).toBe(sa.service_account_id);
    const owned = await db()
      .select()
      .from(serviceAccounts)
      .where(eq(serviceAccounts.applicationId, owner.applicationId));
    expect(owned).toHaveLength(1);
    expect(
      JSON.parse(
        t.runtime.app.keyring.decrypt(
          owned[0]?.credentialsEncrypted ?? '',
          aadOf('service_accounts', owned[0]?.id ?? ''),
        ),
      ).clientSecret,
    ).toBe(clientSecret);
    const events = await auditOf(sa.service_account_id);
    expect(events.map((e) => e.actor)).toEqual(['authorize-page']);
    // The token registration handed out still works, and so does the one the page's code gave.
    expect((await sdk(sa.access_token).userInfo()).sub).toBe(sa.service_account_id);
    expect((await sdk(String(token.access_token)).userInfo()).sub).toBe(sa.service_account_id);
  });
});

describe('a Service Account broken for its credential', () => {
  it('is healthy again after the PATCH: its health check runs at once and its paused Profiles reconnect', async () => {
    const id = sas.microsoft.service_account_id;
    const sa = await saRow(id);
    // The secret is rotated in Entra: the stored one stops working and the Service Account breaks.
    const { clientSecret } = await t.sandbox.control.setSecret({ rotate: true });
    t.runtime.app.providers.evict(id);
    const refusal = new ProviderError('microsoft', 'invalid_credentials', 'secret rotated');
    expect(await breakServiceAccount(t.runtime.app, sa, refusal, t.runtime.app.logger)).toBe(true);
    const paused = async () => {
      const [p] = await db()
        .select({ connected: profiles.connected })
        .from(profiles)
        .innerJoin(accounts, eq(profiles.accountId, accounts.id))
        .where(eq(accounts.id, held.microsoft.sub));
      return p?.connected;
    };
    await eventually(async () => (await paused()) === false, 'the Profile paused');
    expect((await saRow(id)).status).toBe('broken');

    const res = await patch(id, { client_secret: clientSecret });
    expect(res.status, await res.text()).toBe(200);
    const row = await saRow(id);
    expect(row.nextHealthCheckAt?.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await sweepHealthChecks(t.runtime.app)).toBe(1);
    await eventually(async () => (await saRow(id)).status === 'active', 'the Service Account active');
    // Resumed Profiles are spread over up to 30 s (RESUME_SPREAD_MS); this one is made due now.
    const [pro] = await db()
      .select({ id: profiles.id })
      .from(profiles)
      .where(eq(profiles.accountId, held.microsoft.sub));
    await eventually(
      async () => {
        await makeDue(db(), [pro?.id ?? '']);
        await sweepDueProfiles(t.runtime.app);
        return (await paused()) === true;
      },
      'the Profile reconnected',
      30_000,
    );
    // The same Account and its tokens, before and after.
    expect((await sdk(held.microsoft.access_token).userInfo()).sub).toBe(held.microsoft.sub);
  });
});
