import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { esc } from '../../src/api/pages/html.js';
import { PAUSED_CHECK_AT } from '../../src/db/queries/profiles.js';
import type { Account } from '../../src/db/schema/accounts.js';
import { type Profile, profiles } from '../../src/db/schema/profiles.js';
import type { ServiceAccount } from '../../src/db/schema/service-accounts.js';
import { newId } from '../../src/lib/ids.js';
import { GOOGLE_SCOPES } from '../../src/providers/google/auth.js';
import { REASON_DESCRIPTIONS, type ReasonCode } from '../../src/services/reasons.js';
import { createAccount, createProfile, createServiceAccount, createToken } from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { eventually } from '../scheduler/helpers.js';

describe('relink page and check now (no workers: jobs stay queued)', () => {
  const t = useTestApp({ sandbox: { google: false, microsoft: false }, workers: false });
  let google: ServiceAccount;
  let microsoft: ServiceAccount;

  beforeAll(async () => {
    const { db, keyring } = t.runtime.app;
    google = await createServiceAccount(db, keyring, { providerClientId: '104200000000000000001' });
    microsoft = await createServiceAccount(db, keyring, {
      provider: 'microsoft',
      domain: 'contoso.example.com',
      adminEmail: null,
      tenantId: '7d0a1c2e-0000-4000-8000-00000000c0de',
      providerClientId: '2f9a1b3c-0000-4000-8000-00000000a99c',
    });
  });

  async function makeProfile(
    sa: ServiceAccount,
    profile: Partial<typeof profiles.$inferInsert> = {},
    account: Partial<Account> = {},
  ): Promise<{ account: Account; profile: Profile }> {
    const { db } = t.runtime.app;
    const acc = await createAccount(db, sa, account);
    const pro = await createProfile(db, acc, { provider: sa.provider, ...profile });
    return { account: acc, profile: pro };
  }

  const disconnected = (reason: string) => ({
    connected: false,
    disconnectReason: reason,
    disconnectedAt: new Date(Date.now() - 3 * 3600_000),
    failureCount: 3,
    lastCheckedAt: new Date(Date.now() - 600_000),
    nextCheckAt: new Date(Date.now() + 40 * 60_000),
  });

  const get = async (path: string) => {
    const res = await fetch(`${t.url}${path}`);
    return { status: res.status, type: res.headers.get('content-type') ?? '', html: await res.text(), res };
  };

  const checkNow = (profileId: string, headers: Record<string, string> = { origin: t.url }) =>
    fetch(`${t.url}/relink/${profileId}/check`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: '',
    });

  const checkJobs = async (profileId: string) => {
    const jobs = await t.runtime.queues
      .queue('profiles')
      .getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
    return jobs.filter((j) => j.name === 'profiles.check' && j.data.profileId === profileId);
  };

  it('shows a connected Profile with its mailbox, provider and next check, and no fix', async () => {
    const { account, profile } = await makeProfile(google, {
      profileName: 'Ada Lovelace',
      lastCheckedAt: new Date(Date.now() - 120_000),
    });
    const page = await get(`/relink/${profile.id}`);
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.res.headers.get('cache-control')).toBe('no-store');
    expect(page.res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.html).toContain('<strong>Connected</strong>');
    expect(page.html).toContain('Nothing needs fixing');
    expect(page.html).toContain('Ada Lovelace');
    expect(page.html).toContain(account.email);
    expect(page.html).toContain(`Google Workspace · ${google.domain}`);
    expect(page.html).toMatch(/Next check<\/th><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+ h\)/);
    expect(page.html).not.toContain('How to fix it');
    expect(page.html).toContain(`<form method="post" action="/relink/${profile.id}/check">`);
    expect(page.html).not.toMatch(/<script/i);
  });

  const families: {
    provider: 'google' | 'microsoft';
    reason: ReasonCode;
    kind?: 'user' | 'room';
    fix: (sa: ServiceAccount, email: string) => string[];
  }[] = [
    {
      provider: 'google',
      reason: 'delegation_not_granted',
      fix: (sa) => [
        'Security → Access and data control → API controls → Manage Domain Wide Delegation',
        sa.providerClientId,
        [...GOOGLE_SCOPES.directory, ...GOOGLE_SCOPES.calendar].join(','),
        'super administrator',
      ],
    },
    { provider: 'google', reason: 'user_suspended', fix: (_sa, email) => [email, 'Reactivate the user'] },
    {
      provider: 'google',
      reason: 'user_not_found',
      fix: () => ['deleted in the last 20 days can be restored'],
    },
    {
      provider: 'google',
      reason: 'mailbox_not_enabled',
      fix: () => ['licence that includes Google Calendar', 'Calendar must be ON'],
    },
    {
      provider: 'google',
      reason: 'mailbox_not_enabled',
      kind: 'room',
      fix: (sa) => [`read as the admin ${sa.adminEmail}`, 'Buildings and resources'],
    },
    { provider: 'google', reason: 'invalid_credentials', fix: () => ['Keys → Add key → JSON'] },
    {
      provider: 'google',
      reason: 'insufficient_permissions',
      fix: (sa) => [`${sa.adminEmail}`, 'Admin roles', 'Manage Domain Wide Delegation'],
    },
    {
      provider: 'microsoft',
      reason: 'consent_revoked',
      fix: (sa) => [
        'Grant admin consent for',
        'Calendars.Read, User.Read.All, Place.Read.All',
        sa.providerClientId,
        `https://login.microsoftonline.com/${sa.tenantId}/adminconsent?client_id=${sa.providerClientId}`,
        'Global Administrator',
      ],
    },
    {
      provider: 'microsoft',
      reason: 'insufficient_permissions',
      fix: (sa, email) => [
        `Test-ApplicationAccessPolicy -Identity ${email} -AppId ${sa.providerClientId}`,
        `New-ApplicationAccessPolicy -AppId ${sa.providerClientId} -PolicyScopeGroupId &lt;policy group&gt; -AccessRight RestrictAccess`,
        'Calendars.Read, User.Read.All, Place.Read.All',
        'Exchange Administrator',
      ],
    },
    {
      provider: 'microsoft',
      reason: 'mailbox_not_enabled',
      fix: () => ['assign a licence that includes Exchange Online', 'on-premises'],
    },
    { provider: 'microsoft', reason: 'user_suspended', fix: () => ['Unblock sign-in'] },
    { provider: 'microsoft', reason: 'user_not_found', fix: () => ['Deleted users'] },
    {
      provider: 'microsoft',
      reason: 'invalid_credentials',
      fix: (sa) => ['Certificates &amp; secrets → New client secret', sa.providerClientId],
    },
    { provider: 'google', reason: 'provider_unavailable', fix: () => ['this is temporary'] },
  ];

  for (const f of families) {
    it(`explains ${f.reason} (${f.kind ?? 'user'}) on a disconnected ${f.provider} Profile and its fix`, async () => {
      const sa = f.provider === 'google' ? google : microsoft;
      const { account, profile } = await makeProfile(sa, disconnected(f.reason), { kind: f.kind ?? 'user' });
      const page = await get(`/relink/${profile.id}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain('<strong>Disconnected</strong>');
      expect(page.html).toContain(esc(REASON_DESCRIPTIONS[f.reason]));
      expect(page.html).toContain(`<code>${f.reason}</code>`);
      expect(page.html).toContain(sa.provider === 'google' ? 'Google Workspace' : 'Microsoft 365');
      expect(page.html).toMatch(/Disconnected since<\/th><td>[^<]+ UTC \(3 h ago\)/);
      expect(page.html).toMatch(/Next check<\/th><td>[^<]+ UTC \(in 40 min\)/);
      expect(page.html).toContain('Failed checks in a row</th><td>3');
      expect(page.html).toContain('How to fix it');
      for (const words of f.fix(sa, account.email)) {
        expect(page.html).toContain(words);
      }
      expect(page.html).toContain('Check now');
    });
  }

  it('names an unknown reason code without failing', async () => {
    const { profile } = await makeProfile(google, disconnected('something_new'));
    const page = await get(`/relink/${profile.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Unrecognised reason code &quot;something_new&quot;');
  });

  it('says a Profile paused with its broken Service Account waits for it, and offers no check', async () => {
    const { db, keyring } = t.runtime.app;
    const broken = await createServiceAccount(db, keyring, {
      status: 'broken',
      brokenReason: 'delegation_not_granted',
      brokenSince: new Date(Date.now() - 3600_000),
      nextHealthCheckAt: new Date(Date.now() + 20 * 60_000),
    });
    const { profile } = await makeProfile(broken, {
      ...disconnected('delegation_not_granted'),
      nextCheckAt: PAUSED_CHECK_AT,
    });
    const page = await get(`/relink/${profile.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('its organization’s connection is broken');
    expect(page.html).toContain('Manage Domain Wide Delegation');
    expect(page.html).toMatch(/re-verified [^<]+ UTC \(in 20 min\)/);
    expect(page.html).not.toContain('<form');
    const res = await checkNow(profile.id);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/relink/${profile.id}?check=not_checkable`);
    expect(await checkJobs(profile.id)).toHaveLength(0);
  });

  it('says so for a revoked Account, a revoked Profile and a revoked Service Account', async () => {
    const { db, keyring } = t.runtime.app;
    const revokedAccount = await makeProfile(
      google,
      { nextCheckAt: null },
      { status: 'revoked', revokedAt: new Date() },
    );
    const revokedProfile = await makeProfile(google, { nextCheckAt: null });
    const gone = await createServiceAccount(db, keyring, { status: 'revoked', revokedAt: new Date() });
    const revokedSa = await makeProfile(gone, { nextCheckAt: null }, { status: 'revoked' });
    for (const [{ profile }, words] of [
      [revokedAccount, 'The Account was revoked'],
      [revokedProfile, 'The Profile was revoked'],
      [revokedSa, esc(REASON_DESCRIPTIONS.service_account_revoked)],
    ] as const) {
      const page = await get(`/relink/${profile.id}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain('<strong>Revoked</strong>');
      expect(page.html).toContain(words);
      expect(page.html).toContain('Next check</th><td>never (revoked)');
      expect(page.html).not.toContain('Check now');
      const res = await checkNow(profile.id);
      expect(res.headers.get('location')).toBe(`/relink/${profile.id}?check=not_checkable`);
      expect(await checkJobs(profile.id)).toHaveLength(0);
    }
  });

  it('answers unknown, malformed and over-long ids with a 404 HTML page', async () => {
    const paths = [
      `/relink/${newId('profile')}`,
      `/relink/${newId('account')}`,
      '/relink/pro_%00',
      '/relink/pro_abc%00def',
      '/relink/PRO_ABC',
      '/relink/pro_abc-def',
      '/relink/pro_%2e%2e%2fadmin',
      '/relink/pro_a%2Fb',
      `/relink/pro_${'a'.repeat(61)}`,
      `/relink/pro_${'a'.repeat(5000)}`,
      '/relink/',
      '/relink/pro_abc/extra',
      `/relink/${'%F0%9F%98%80'.repeat(50)}`,
    ];
    for (const path of paths) {
      const page = await get(path);
      expect(page.status, path).toBe(404);
      expect(page.type, path).toMatch(/^text\/html/);
      expect(page.html, path).toContain('This link does not work');
    }
    for (const path of [
      `/relink/${newId('profile')}/check`,
      '/relink/pro_%00/check',
      `/relink/${'x'.repeat(3000)}/check`,
    ]) {
      const res = await checkNow(path.slice('/relink/'.length, -'/check'.length));
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
    }
    const put = await fetch(`${t.url}/relink/${newId('profile')}`, { method: 'PUT' });
    expect(put.status).toBe(404);
    expect(put.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('never answers invalid UTF-8 in the id with a 5xx', async () => {
    // The router refuses undecodable paths before any route runs (Fastify FST_ERR_BAD_URL); the
    // server's `frameworkErrors` answers those under /relink with the same 404 page as any miss.
    for (const path of [
      '/relink/pro_%ff',
      '/relink/pro_%C3%28',
      '/relink/pro_%E2%82',
      '/relink/pro_%ff/check',
    ]) {
      const page = await get(path);
      expect(page.status, path).toBe(404);
      expect(page.type, path).toMatch(/^text\/html/);
      expect(page.html, path).toContain('This link does not work');
    }
  });

  it('queues exactly one profiles.check on the Profile’s claim, then refuses a second click politely', async () => {
    const { profile } = await makeProfile(google, disconnected('user_suspended'));
    const first = await checkNow(profile.id);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe(`/relink/${profile.id}?check=queued`);

    const jobs = await checkJobs(profile.id);
    expect(jobs).toHaveLength(1);
    const [job] = jobs;
    expect(job?.id).toMatch(new RegExp(`^check-now-${profile.id}-\\d+$`));
    const [row] = await t.runtime.app.db.select().from(profiles).where(eq(profiles.id, profile.id));
    // The job names the claim it made, so the check handler accepts it (and a sweep's does nothing).
    expect(job?.data.leaseAt).toBe(row?.nextCheckAt?.getTime());
    expect(row?.nextCheckAt?.getTime()).toBeGreaterThan(Date.now() + 10 * 60_000);

    const queued = await get(`/relink/${profile.id}?check=queued`);
    expect(queued.html).toContain('A check was queued');
    expect(queued.html).toContain('<meta http-equiv="refresh" content="5">');
    expect(queued.html).toContain('Next check</th><td>now: a requested check is queued');

    const second = await checkNow(profile.id);
    expect(second.status).toBe(303);
    expect(second.headers.get('location')).toBe(`/relink/${profile.id}?check=rate_limited`);
    expect(await checkJobs(profile.id)).toHaveLength(1);
    const limited = await get(`/relink/${profile.id}?check=rate_limited`);
    expect(limited.status).toBe(200);
    const secs = Number(/checked recently; try again in (\d+) s/.exec(limited.html)?.[1]);
    expect(secs).toBeGreaterThan(50);
    expect(secs).toBeLessThanOrEqual(60);
  });

  it('lets only one of many simultaneous clicks through', async () => {
    const { profile } = await makeProfile(microsoft, disconnected('consent_revoked'));
    const answers = await Promise.all(Array.from({ length: 8 }, () => checkNow(profile.id)));
    const locations = answers.map((r) => r.headers.get('location'));
    expect(answers.every((r) => r.status === 303)).toBe(true);
    expect(locations.filter((l) => l?.endsWith('?check=queued'))).toHaveLength(1);
    expect(locations.filter((l) => l?.endsWith('?check=rate_limited'))).toHaveLength(7);
    expect(await checkJobs(profile.id)).toHaveLength(1);
  });

  it('refuses a check posted from another site', async () => {
    const { profile } = await makeProfile(google, disconnected('user_suspended'));
    for (const headers of [
      { origin: 'https://evil.example.com' },
      { origin: 'null' },
      { origin: t.url, 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ]) {
      const res = await checkNow(profile.id, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('sent from another site');
    }
    expect(await checkJobs(profile.id)).toHaveLength(0);
    // Same origin as PUBLIC_URL, and no Origin at all (curl), are accepted.
    const viaPublicUrl = await checkNow(profile.id, {
      origin: new URL(t.config.http.publicUrl).origin,
      'sec-fetch-site': 'same-origin',
    });
    expect(viaPublicUrl.headers.get('location')).toBe(`/relink/${profile.id}?check=queued`);
    const { profile: other } = await makeProfile(google, disconnected('user_suspended'));
    expect((await checkNow(other.id, {})).headers.get('location')).toBe(`/relink/${other.id}?check=queued`);
  });

  it('serves the profile_relink_url that GET /v1/profiles hands out', async () => {
    const { account, profile } = await makeProfile(microsoft, disconnected('mailbox_not_enabled'));
    const { token } = await createToken(t.runtime.app.db, {
      applicationId: account.applicationId,
      accountId: account.id,
    });
    const res = await fetch(`${t.url}/v1/profiles`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { profiles: { profile_id: string; profile_relink_url: string }[] };
    const url = body.profiles[0]?.profile_relink_url ?? '';
    expect(url).toBe(`${t.config.http.publicUrl}/relink/${profile.id}`);
    const page = await get(new URL(url).pathname);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Exchange Online');
  });
});

describe('check now against the sandbox (workers running)', () => {
  const t = useTestApp({
    sandbox: { google: { users: 6, rooms: 1 }, microsoft: false },
    env: { PROFILE_CHECK_INTERVAL_SECONDS: '3600', RECONNECT_BACKOFF_SECONDS: '3600' },
  });
  const receiver = useReceiver();

  it('reconnects a fixed Profile at once, and the page then says Connected', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const [user] = await usableUsers(t, 'google');
    const email = user?.email ?? '';
    const authorized = await authorizeAccount(t, receiver, app, sa, email);
    const profileId = (authorized.linking_profile as { profile_id: string }).profile_id;
    const { db } = t.runtime.app;
    // As if a check had found the user suspended and an admin has since reactivated it: the next
    // automatic check is an hour away.
    await db
      .update(profiles)
      .set({
        connected: false,
        disconnectReason: 'user_suspended',
        disconnectedAt: new Date(),
        failureCount: 1,
        nextCheckAt: new Date(Date.now() + 3600_000),
      })
      .where(eq(profiles.id, profileId));
    const before = await fetch(`${t.url}/relink/${profileId}`);
    expect(await before.text()).toContain('Reactivate the user');

    const res = await fetch(`${t.url}/relink/${profileId}/check`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.url },
      body: '',
    });
    expect(res.headers.get('location')).toBe(`/relink/${profileId}?check=queued`);
    await eventually(async () => {
      const [row] = await db.select().from(profiles).where(eq(profiles.id, profileId));
      return row?.connected;
    }, 'the Profile reconnected');
    const after = await (await fetch(`${t.url}/relink/${profileId}?check=queued`)).text();
    expect(after).toContain('<strong>Connected</strong>');
    expect(after).toContain('The check you asked for ran');
    expect(after).not.toContain('http-equiv="refresh"');
  });
});
