import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { findServiceAccount } from '../../src/db/queries/service-accounts.js';
import { GOOGLE_SCOPES } from '../../src/providers/google/auth.js';
import { diagnoseServiceAccount } from '../../src/services/diagnostics.js';
import { useTestApp } from '../helpers/app.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { type RegisteredSa, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';

/**
 * `ec doctor` and `GET /v1/service_accounts/{id}/diagnostics`: every check passing, then each one
 * failed on purpose through a sandbox switch, with the provider's answer and the fix.
 */
const ADMIN_TOKEN = 'doctor-admin-token-0123456789abcdef';
const t = useTestApp({
  sandbox: { google: { users: 30, rooms: 6 }, microsoft: { users: 30, rooms: 6 } },
  workers: false,
  env: { ADMIN_TOKEN },
});

type Check = {
  check: string;
  status: 'ok' | 'failed' | 'warning' | 'skipped';
  target: string;
  detail: string;
  reason: string | null;
  provider_code: string | null;
  fix: string | null;
};
type Diagnostics = { service_account_id: string; ok: boolean; checks: Check[] };

const SCOPE = 'https://www.googleapis.com/auth/';
let app: { clientId: string; clientSecret: string } | undefined;
const sas: Partial<Record<'google' | 'microsoft', RegisteredSa>> = {};

async function sa(provider: 'google' | 'microsoft'): Promise<RegisteredSa> {
  app ??= await t.createApplication();
  sas[provider] ??= await registerSandboxServiceAccount(t, provider, app.clientSecret);
  return sas[provider] as RegisteredSa;
}

async function diagnose(provider: 'google' | 'microsoft', mailbox?: string): Promise<Diagnostics> {
  const id = (await sa(provider)).service_account_id;
  const q = mailbox ? `?mailbox=${encodeURIComponent(mailbox)}` : '';
  const res = await fetch(`${t.url}/v1/service_accounts/${id}/diagnostics${q}`, {
    headers: { authorization: `Bearer ${app?.clientSecret}` },
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (JSON.parse(text) as { diagnostics: Diagnostics }).diagnostics;
}

const byCheck = (d: Diagnostics) => Object.fromEntries(d.checks.map((c) => [c.check, c]));
const statuses = (d: Diagnostics) => Object.fromEntries(d.checks.map((c) => [c.check, c.status]));

async function control(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${t.sandbox.url}/_sandbox${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.text()).toBe(200);
}

const cliEnv = () => ({
  DATABASE_URL: t.config.databaseUrl,
  REDIS_URL: t.config.redis.url,
  QUEUE_PREFIX: t.config.redis.queuePrefix,
  ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
  GOOGLE_TOKEN_URL: `${t.sandbox.url}/token`,
  GOOGLE_API_URL: t.sandbox.url,
  MICROSOFT_LOGIN_URL: t.sandbox.url,
  MICROSOFT_GRAPH_URL: t.sandbox.url,
  LOG_LEVEL: 'silent',
});

afterEach(async () => {
  await control('/google/permissions', { disabled_apis: [], withdrawn_privileges: [] });
  await control('/microsoft/permissions', { withdrawn_roles: [] });
  await control('/google/delegation', { granted: true, scopes: null });
  await control('/google/key', { revoked: false });
  await control('/microsoft/secret', { expired: false });
  await control('/microsoft/consent', { granted: true });
});

describe('Google: every check', () => {
  it('passes on a healthy domain', async () => {
    const d = await diagnose('google');
    expect(d.ok, JSON.stringify(d.checks, null, 1)).toBe(true);
    expect(statuses(d)).toEqual({
      token: 'ok',
      directory_users: 'ok',
      rooms: 'ok',
      buildings: 'ok',
      groups: 'ok',
      calendar_user: 'ok',
      calendar_room: 'ok',
      access_policy: 'skipped',
      credential_expiry: 'skipped',
    });
    expect(d.checks.every((c) => c.fix === null)).toBe(true);
  });

  it('a scope withdrawn from the delegation fails the token and exactly the checks needing it, naming the scope', async () => {
    const rooms = `${SCOPE}admin.directory.resource.calendar.readonly`;
    const all = [
      ...GOOGLE_SCOPES.directory,
      ...GOOGLE_SCOPES.calendar,
      `${SCOPE}admin.directory.group.readonly`,
    ];
    await control('/google/delegation', { granted: true, scopes: all.filter((s) => s !== rooms) });
    const d = await diagnose('google');
    const c = byCheck(d);
    expect(d.ok).toBe(false);
    expect(c.token?.status).toBe('failed');
    expect(c.token?.provider_code).toBe('unauthorized_client');
    expect(c.directory_users?.status).toBe('ok');
    expect(c.groups?.status).toBe('ok');
    expect(c.calendar_user?.status).toBe('ok');
    for (const check of ['rooms', 'buildings'] as const) {
      expect(c[check]?.status).toBe('failed');
      expect(c[check]?.reason).toBe('delegation_not_granted');
      expect(c[check]?.detail).toContain('Client is unauthorized to retrieve access tokens');
      expect(c[check]?.fix).toContain(`does not include ${rooms}`);
      expect(c[check]?.fix).toContain('Manage Domain Wide Delegation');
    }
  });

  it('the calendar scope withdrawn fails both calendar reads', async () => {
    await control('/google/delegation', {
      granted: true,
      scopes: [...GOOGLE_SCOPES.directory, `${SCOPE}admin.directory.group.readonly`],
    });
    const c = byCheck(await diagnose('google'));
    expect(c.calendar_user?.status).toBe('failed');
    expect(c.calendar_room?.status).toBe('failed');
    expect(c.calendar_user?.fix).toContain(`${SCOPE}calendar`);
    expect(c.directory_users?.status).toBe('ok');
  });

  it.each([
    ['users', 'directory_users', 'Users → Read'],
    ['resources', 'rooms', 'Calendar resources'],
    ['groups', 'groups', 'Groups → Read'],
  ] as const)(
    'an admin role without the %s privilege: 403 forbidden on %s, with the privilege to add',
    async (privilege, check, words) => {
      await control('/google/permissions', { withdrawn_privileges: [privilege] });
      const d = await diagnose('google');
      const c = byCheck(d);
      expect(c[check]?.status).toBe('failed');
      expect(c[check]?.provider_code).toBe('forbidden');
      expect(c[check]?.detail).toBe('Not Authorized to access this resource/api');
      expect(c[check]?.fix).toContain('Admin roles');
      expect(c[check]?.fix).toContain(words);
      expect(c.token?.status).toBe('ok');
      expect(d.checks.filter((x) => x.status === 'failed').length).toBe(privilege === 'resources' ? 2 : 1);
    },
  );

  it('the Admin SDK API disabled in the project: accessNotConfigured with the link to enable it', async () => {
    await control('/google/permissions', { disabled_apis: ['admin'] });
    const [user] = await usableUsers(t, 'google');
    const c = byCheck(await diagnose('google', user?.email));
    for (const check of ['directory_users', 'rooms', 'buildings', 'groups'] as const) {
      expect(c[check]?.status).toBe('failed');
      expect(c[check]?.provider_code).toBe('accessNotConfigured');
      expect(c[check]?.detail).toMatch(
        /^Admin SDK API has not been used in project \d+ before or it is disabled/,
      );
      expect(c[check]?.fix).toMatch(
        /Enable \(https:\/\/console\.developers\.google\.com\/apis\/api\/admin\.googleapis\.com\/overview\?project=\d+\)/,
      );
    }
    // No room could be listed to try; the given user's calendar still reads.
    expect(c.calendar_user?.status).toBe('ok');
    expect(c.calendar_room?.status).toBe('skipped');
  });

  it('the Calendar API disabled: both calendar reads say so', async () => {
    await control('/google/permissions', { disabled_apis: ['calendar'] });
    const c = byCheck(await diagnose('google'));
    expect(c.calendar_user?.provider_code).toBe('accessNotConfigured');
    expect(c.calendar_room?.fix).toContain('Google Calendar API');
    expect(c.directory_users?.status).toBe('ok');
  });

  it('a deleted key fails the token; the rest is not tried', async () => {
    await control('/google/key', { revoked: true });
    const d = await diagnose('google');
    const c = byCheck(d);
    expect(c.token?.status).toBe('failed');
    expect(c.token?.reason).toBe('invalid_credentials');
    expect(c.token?.detail).toBe('Invalid JWT Signature.');
    expect(c.token?.fix).toContain('Keys → Add key');
    expect(c.token?.fix).toContain('iam.disableServiceAccountKeyCreation');
    expect(c.rooms?.status).toBe('skipped');
  });
});

describe('Microsoft: every check', () => {
  it('passes on a healthy tenant, with the secret end date read from Graph', async () => {
    const d = await diagnose('microsoft');
    expect(d.ok, JSON.stringify(d.checks, null, 1)).toBe(true);
    expect(statuses(d)).toEqual({
      token: 'ok',
      directory_users: 'ok',
      rooms: 'ok',
      buildings: 'ok',
      groups: 'ok',
      calendar_user: 'ok',
      calendar_room: 'ok',
      access_policy: 'ok',
      credential_expiry: 'ok',
    });
    expect(byCheck(d).credential_expiry?.detail).toContain('per Microsoft Graph');
    expect(byCheck(d).token?.detail).toContain('User.Read.All');
  });

  it.each([
    ['User.Read.All', ['directory_users'], 'Authorization_RequestDenied'],
    ['Place.Read.All', ['rooms', 'buildings'], 'ErrorAccessDenied'],
    ['Calendars.Read', ['calendar_user', 'calendar_room'], 'ErrorAccessDenied'],
  ] as const)('without %s: %j fail with %s and the permission to grant', async (role, checks, code) => {
    await control('/microsoft/permissions', { withdrawn_roles: [role] });
    const d = await diagnose('microsoft');
    const c = byCheck(d);
    for (const check of checks) {
      expect(c[check]?.status, check).toBe('failed');
      expect(c[check]?.provider_code).toBe(code);
      expect(c[check]?.fix).toContain(`application permission ${role}`);
      expect(c[check]?.fix).toContain('Grant admin consent');
    }
    expect(d.checks.filter((x) => x.status === 'failed').map((x) => x.check)).toEqual(checks);
  });

  it('without any group permission: groups fails', async () => {
    await control('/microsoft/permissions', { withdrawn_roles: ['Group.Read.All', 'GroupMember.Read.All'] });
    const c = byCheck(await diagnose('microsoft'));
    expect(c.groups?.status).toBe('failed');
    expect(c.groups?.provider_code).toBe('Authorization_RequestDenied');
    expect(c.groups?.fix).toContain('GroupMember.Read.All');
  });

  it('a mailbox outside the application access policy: the Exchange commands to test and fix it', async () => {
    const [user] = await usableUsers(t, 'microsoft');
    const email = user?.email ?? '';
    await t.sandbox.control.updateUser('microsoft', email, { accessDenied: true });
    try {
      const d = await diagnose('microsoft', email);
      const c = byCheck(d);
      expect(c.calendar_user?.status).toBe('failed');
      expect(c.access_policy?.status).toBe('failed');
      expect(c.access_policy?.target).toBe(email);
      expect(c.access_policy?.detail).toContain('Blocked by tenant configured AppOnly AccessPolicy settings');
      const clientId = t.sandbox.microsoft?.clientId ?? '';
      expect(c.access_policy?.fix).toContain(
        `Test-ApplicationAccessPolicy -Identity ${email} -AppId ${clientId}`,
      );
      expect(c.access_policy?.fix).toContain('New-ApplicationAccessPolicy');
      expect(c.access_policy?.fix).toContain('New-ManagementRoleAssignment');
      expect(c.calendar_room?.status).toBe('ok');
    } finally {
      await t.sandbox.control.updateUser('microsoft', email, { accessDenied: false });
    }
  });

  it('without Application.Read.All the secret expiry is a warning with the two ways out', async () => {
    await control('/microsoft/permissions', { withdrawn_roles: ['Application.Read.All'] });
    const d = await diagnose('microsoft');
    const c = byCheck(d);
    expect(d.ok).toBe(true);
    expect(c.credential_expiry?.status).toBe('warning');
    expect(c.credential_expiry?.fix).toContain('Application.Read.All');
    expect(c.credential_expiry?.fix).toContain('credential_expires_at');
  });

  it('an expired secret and withdrawn consent fail the token with their own fixes', async () => {
    await control('/microsoft/secret', { expired: true });
    let c = byCheck(await diagnose('microsoft'));
    expect(c.token?.provider_code).toBe('AADSTS7000222');
    expect(c.token?.fix).toContain('client secret has expired');
    expect(c.directory_users?.status).toBe('skipped');
    await control('/microsoft/secret', { expired: false });
    await control('/microsoft/consent', { granted: false, mode: 'roles_missing' });
    c = byCheck(await diagnose('microsoft'));
    expect(c.token?.reason).toBe('consent_revoked');
    expect(c.token?.fix).toContain('/adminconsent?client_id=');
  });
});

describe('ec doctor', () => {
  it('prints one line per check and exits 0 when all pass; --json is the API answer', async () => {
    for (const provider of ['google', 'microsoft'] as const) {
      const id = (await sa(provider)).service_account_id;
      const r = await runEc(['doctor', '--service-account', id], cliEnv());
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(11);
      expect(lines[1]).toMatch(/^ok +token +an (access|app-only) token/);
      expect(lines.at(-1)).toBe('All checks passed.');
      const json = await runEc(['doctor', '--service-account', id, '--json'], cliEnv());
      const body = JSON.parse(json.stdout) as { diagnostics: Diagnostics };
      const api = await diagnose(provider);
      expect(body.diagnostics.checks.map((c) => [c.check, c.status])).toEqual(
        api.checks.map((c) => [c.check, c.status]),
      );
    }
  });

  it('exits 1 with a FAIL line carrying the provider answer and the fix (Google scope, Microsoft permission)', async () => {
    await control('/google/permissions', { withdrawn_privileges: ['resources'] });
    const g = await runEc(['doctor', '--service-account', (await sa('google')).service_account_id], cliEnv());
    expect(g.code).toBe(1);
    expect(g.stdout).toMatch(
      /^FAIL {2}rooms +insufficient_permissions \(forbidden\): Not Authorized to access this resource\/api .*\| fix: .*Admin roles/m,
    );
    expect(g.stdout).toContain('2 check(s) failed.');
    await control('/microsoft/permissions', { withdrawn_roles: ['User.Read.All'] });
    const m = await runEc(
      ['doctor', '--service-account', (await sa('microsoft')).service_account_id, '--json'],
      cliEnv(),
    );
    expect(m.code).toBe(1);
    const body = JSON.parse(m.stdout) as { diagnostics: Diagnostics };
    expect(byCheck(body.diagnostics).directory_users?.provider_code).toBe('Authorization_RequestDenied');
  });

  it('refuses bad arguments with exit code 2', async () => {
    const bad = await runEc(['doctor', '--service-account', 'acc_nope'], cliEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a Service Account id');
    const mailbox = await runEc(
      ['doctor', '--service-account', (await sa('google')).service_account_id, '--mailbox', 'not an email'],
      cliEnv(),
    );
    expect(mailbox.code).toBe(2);
    expect(mailbox.stderr).toContain('mailbox');
  });
});

describe('GET /v1/service_accounts/{id}/diagnostics', () => {
  it('answers only the owning Application; a bad mailbox is a 422', async () => {
    const id = (await sa('google')).service_account_id;
    const other = await t.createApplication();
    const foreign = await fetch(`${t.url}/v1/service_accounts/${id}/diagnostics`, {
      headers: { authorization: `Bearer ${other.clientSecret}` },
    });
    expect(foreign.status).toBe(404);
    const none = await fetch(`${t.url}/v1/service_accounts/${id}/diagnostics`);
    expect(none.status).toBe(401);
    const badMailbox = await fetch(`${t.url}/v1/service_accounts/${id}/diagnostics?mailbox=%00%FF`, {
      headers: { authorization: `Bearer ${app?.clientSecret}` },
    });
    expect([400, 422]).toContain(badMailbox.status);
    const badId = await fetch(`${t.url}/v1/service_accounts/ser_x/diagnostics`, {
      headers: { authorization: `Bearer ${app?.clientSecret}` },
    });
    expect([400, 422]).toContain(badId.status);
  });
});

describe('/admin', () => {
  it("the Service Account page links to the live check, which shows each check's answer and fix, without script", async () => {
    const id = (await sa('microsoft')).service_account_id;
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const page = await fetch(`${t.url}/admin/service-accounts/${id}`, { headers });
    expect(await page.text()).toContain(`/admin/service-accounts/${id}/diagnostics`);
    const ok = await fetch(`${t.url}/admin/service-accounts/${id}/diagnostics`, { headers });
    const okHtml = await ok.text();
    expect(ok.status).toBe(200);
    expect(okHtml).toContain('all checks passed');
    expect(okHtml).not.toContain('<script');
    await control('/microsoft/permissions', { withdrawn_roles: ['Place.Read.All'] });
    const bad = await (await fetch(`${t.url}/admin/service-accounts/${id}/diagnostics`, { headers })).text();
    expect(bad).toContain('2 check(s) failed');
    expect(bad).toContain('application permission Place.Read.All');
    const invalid = await fetch(`${t.url}/admin/service-accounts/${id}/diagnostics?mailbox=nope`, {
      headers,
    });
    expect(invalid.status).toBe(422);
    const missing = await fetch(
      `${t.url}/admin/service-accounts/ser_aaaaaaaaaaaaaaaaaaaaaaaaaa/diagnostics`,
      { headers },
    );
    expect(missing.status).toBe(404);
    const anonymous = await fetch(`${t.url}/admin/service-accounts/${id}/diagnostics`);
    expect(anonymous.status).toBe(401);
  });
});

describe('hostile input and slow providers', () => {
  it('any mailbox query (NUL bytes, invalid UTF-8, huge) is a 4xx or a check, never a 5xx', async () => {
    const id = (await sa('google')).service_account_id;
    const raw = fc.oneof(
      fc.string({ maxLength: 400 }).map(encodeURIComponent),
      fc.constantFrom('%00', '%FF%FE', '%C3%28', 'a%00b@x.com', '%ED%A0%80@x.com', 'x'.repeat(5000)),
      fc.emailAddress().map(encodeURIComponent),
    );
    await fc.assert(
      fc.asyncProperty(raw, async (q) => {
        const res = await fetch(`${t.url}/v1/service_accounts/${id}/diagnostics?mailbox=${q}`, {
          headers: { authorization: `Bearer ${app?.clientSecret}` },
        });
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
        expect([200, 400, 414, 422, 431]).toContain(res.status);
      }),
      { numRuns: 25 },
    );
  });

  it('a provider slower than the deadline answers in time, its checks failing as temporary', async () => {
    const id = (await sa('microsoft')).service_account_id;
    const row = await findServiceAccount(t.runtime.app.db, id);
    const faults = await fetch(`${t.sandbox.url}/_sandbox/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 1500 }),
    });
    expect(faults.status).toBe(200);
    try {
      const started = Date.now();
      const d = await diagnoseServiceAccount(t.runtime.app, row as NonNullable<typeof row>, {
        deadlineMs: 500,
      });
      expect(Date.now() - started).toBeLessThan(6_000);
      const token = byCheck(d).token;
      expect(token?.status).toBe('failed');
      expect(token?.reason).toBe('provider_unavailable');
      expect(token?.fix).toContain('run the check again');
      expect(d.ok).toBe(false);
    } finally {
      await fetch(`${t.sandbox.url}/_sandbox/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ latencyMs: 0 }),
      });
    }
  });
});

describe('registration errors carry the fix', () => {
  it('a domain without delegation answers 422 with the delegation steps and the scope list', async () => {
    await control('/google/delegation', { granted: false });
    const a = await t.createApplication();
    const sb = t.sandbox;
    const res = await fetch(`${t.url}/v1/service_accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.clientSecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'google',
        domain: sb.google?.domain,
        admin_email: sb.google?.adminEmail,
        credentials: sb.google?.serviceAccountKey,
      }),
    });
    const body = (await res.json()) as { errors: { credentials: { key: string; description: string }[] } };
    expect(res.status).toBe(422);
    const description = body.errors.credentials[0]?.description ?? '';
    expect(body.errors.credentials[0]?.key).toBe('errors.delegation_not_granted');
    expect(description).toContain('Fix: Domain-wide delegation is not granted to client ID');
    expect(description).toContain(`${SCOPE}admin.directory.user.readonly`);
  });
  it('the authorize page shows the same fix on a refused credential', async () => {
    const redirect = 'https://app.example.com/ec/callback';
    const scope = 'service_account/accounts/manage service_account/resources/manage';
    const a = await t.createApplication([redirect]);
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: a.clientId,
      redirect_uri: redirect,
      scope,
      delegated_scope: 'read_write',
      state: 'xyz',
    });
    const form = await fetch(`${t.url}/enterprise_connect/oauth/authorize?${q}`);
    const cookie = (form.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    await control('/google/permissions', { withdrawn_privileges: ['users'] });
    const g = t.sandbox.google;
    const res = await fetch(`${t.url}/enterprise_connect/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({
        csrf,
        client_id: a.clientId,
        redirect_uri: redirect,
        scope,
        delegated_scope: 'read_write',
        state: 'xyz',
        action: 'connect',
        provider: 'google',
        domain: g?.domain ?? '',
        admin_email: g?.adminEmail ?? '',
        credentials: JSON.stringify(g?.serviceAccountKey),
      }).toString(),
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('Not Authorized to access this resource/api');
    expect(html).toContain('Fix: The admin user');
    expect(html).toContain('Admin API privileges → Users → Read');
  });
});
