import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { SandboxUser } from '../../src/sandbox/index.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { api, type RunJson, startRun, waitForRun } from '../helpers/runs.js';

const EXTRA_DOMAIN = 'eu.selection.example.org';
const t = useTestApp({
  sandbox: {
    // Large enough that a group spans several pages: members.list gives 200 a page, Graph 500 here.
    google: { users: 800, rooms: 10, structure: true, domains: [EXTRA_DOMAIN] },
    microsoft: { users: 1400, rooms: 5, structure: true, domains: [EXTRA_DOMAIN] },
  },
});

type Provider = 'google' | 'microsoft';

/** The sandbox's own view of its org (its control API), not what the service listed. */
async function sandboxUsers(provider: Provider): Promise<SandboxUser[]> {
  const out: SandboxUser[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await t.sandbox.control.listUsers(provider, { offset, limit: 1000 });
    out.push(...page.users);
    if (page.users.length < 1000) {
      return out;
    }
  }
}

/** What a dry run over `users` should count: listed, skipped by reason, would provision. */
function expected(users: SandboxUser[]) {
  const suspended = users.filter((u) => u.suspended && !u.shared).length;
  const noMailbox = users.filter((u) => !(u.suspended && !u.shared) && !u.mailbox).length;
  return { listed: users.length, suspended, noMailbox, wouldProvision: users.length - suspended - noMailbox };
}

function reasons(run: RunJson): Record<string, number> {
  return Object.fromEntries(run.skipped_by_reason.map((r) => [r.error_key, r.count]));
}

function expectCounts(run: RunJson, users: SandboxUser[], extraSkipped: Record<string, number> = {}) {
  const e = expected(users);
  const extra = Object.values(extraSkipped).reduce((a, b) => a + b, 0);
  expect(run.status).toBe('completed');
  expect(run.counts.listed).toBe(e.listed + extra);
  expect(run.counts.would_provision).toBe(e.wouldProvision);
  expect(run.counts.failed).toBe(0);
  expect(reasons(run)).toEqual(
    Object.fromEntries(
      Object.entries({
        user_suspended: e.suspended,
        mailbox_not_enabled: e.noMailbox,
        ...extraSkipped,
      }).filter(([, n]) => n > 0),
    ),
  );
}

async function dryRun(provider: Provider, selection: Record<string, unknown>): Promise<RunJson> {
  const app = await t.createApplication();
  const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
  const started = await startRun(t, sa.access_token, { selection, dry_run: true, verify: 'directory' });
  return waitForRun(t, sa.access_token, started.id);
}

async function refused(provider: Provider, body: Record<string, unknown>) {
  const app = await t.createApplication();
  const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
  return api<{ errors: Record<string, { key: string; description: string }[]> }>(
    t,
    sa.access_token,
    'POST',
    '/v1/provisioning_runs',
    body,
  );
}

describe('a Google selection', () => {
  it('takes an org unit with its children (users.list query=orgUnitPath)', async () => {
    const users = (await sandboxUsers('google')).filter(
      (u) => u.orgUnitPath === '/Engineering' || u.orgUnitPath?.startsWith('/Engineering/'),
    );
    expect(users.length).toBeGreaterThan(20);
    const run = await dryRun('google', { org_units: [{ path: '/Engineering' }] });
    expectCounts(run, users);
    expect((run as unknown as { selection: unknown }).selection).toEqual({
      org_units: [{ path: '/Engineering', include_children: true }],
      groups: [],
      domains: [],
      emails: 0,
    });
  });

  it('takes org units without their children, a quoted path with a space among them', async () => {
    const all = await sandboxUsers('google');
    const users = all.filter(
      (u) => u.orgUnitPath === '/Engineering/Platform' || u.orgUnitPath === '/Customer Support',
    );
    expect(all.some((u) => u.orgUnitPath === '/Engineering/Platform/Storage')).toBe(true);
    const run = await dryRun('google', {
      org_units: [
        { path: '/Engineering/Platform', include_children: false },
        { path: '/Customer Support', include_children: false },
      ],
    });
    expectCounts(run, users);
  });

  it('takes a group with its nested groups, two levels deep (members.list, derived membership)', async () => {
    const all = await sandboxUsers('google');
    const domain = t.sandbox.google?.domain;
    const allHands = all.filter((u) => u.groups?.includes(`all-hands@${domain}`));
    // all-hands holds engineering, which holds platform and apps.
    expect(allHands.length).toBeGreaterThan(
      all.filter((u) => u.groups?.includes(`engineering@${domain}`)).length,
    );
    expect(allHands.length).toBeGreaterThan(200);
    expectCounts(await dryRun('google', { groups: [`all-hands@${domain}`] }), allHands);
  });

  it('takes a group with no members: the run lists nothing and completes', async () => {
    const run = await dryRun('google', { groups: [`new-starters@${t.sandbox.google?.domain}`] });
    expect(run.status).toBe('completed');
    expect(run.counts.listed).toBe(0);
  });

  it('takes a domain of the tenant (users.list domain=)', async () => {
    const users = (await sandboxUsers('google')).filter((u) => u.email.endsWith(`@${EXTRA_DOMAIN}`));
    expect(users.length).toBeGreaterThan(50);
    expectCounts(await dryRun('google', { domains: [EXTRA_DOMAIN.toUpperCase()] }), users);
  });

  it('onboards an uploaded list of 50,000 emails for real; unknown ones are skipped with a reason', async () => {
    const all = await sandboxUsers('google');
    const known = all.filter((u) => !u.admin).slice(0, 120);
    const unknown = Array.from(
      { length: 50_000 - known.length },
      (_, i) => `nobody.${i}@${t.sandbox.google?.domain}`,
    );
    // Upper-cased spellings still match the directory's addresses.
    const emails = [...known.map((u, i) => (i % 2 ? u.email.toUpperCase() : u.email)), ...unknown];
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const started = await startRun(t, sa.access_token, { selection: { emails } });
    const run = await waitForRun(t, sa.access_token, started.id, 240_000);
    const e = expected(known);
    expect(run.counts.listed).toBe(50_000);
    expect(reasons(run).user_not_found).toBe(unknown.length);
    expect(run.counts.provisioned + run.counts.failed).toBe(e.wouldProvision);
    expect(run.counts.provisioned).toBeGreaterThan(e.wouldProvision - 5);
    const page = await api<{ items: { email: string; error_key: string; error_description: string }[] }>(
      t,
      sa.access_token,
      'GET',
      `/v1/provisioning_runs/${run.id}/items?status=skipped&limit=10`,
    );
    expect(page.json.items).toHaveLength(10);
    const missing = page.json.items.find((i) => i.error_key === 'user_not_found');
    expect(unknown).toContain(missing?.email);
    expect(missing?.error_description).toMatch(/No Directory user has this email/);
    // No room items: a selection lists users only unless include names rooms.
    const [{ n } = { n: -1 }] = await t.runtime.app.db.execute<{ n: number }>(
      sql`select count(*)::int as n from run_items where run_id = ${run.id} and kind = 'room'`,
    );
    expect(n).toBe(0);
  }, 300_000);

  it('combines parts as a union, each user once, and a dry run shows the effect', async () => {
    const all = await sandboxUsers('google');
    const domain = t.sandbox.google?.domain;
    const picked = all.filter(
      (u) =>
        u.orgUnitPath === '/Sales' ||
        u.orgUnitPath?.startsWith('/Sales/') ||
        u.groups?.includes(`platform@${domain}`),
    );
    const extra = all.find(
      (u) => !picked.includes(u) && !u.suspended && u.mailbox && !u.admin,
    ) as SandboxUser;
    const run = await dryRun('google', {
      org_units: [{ path: '/Sales' }],
      groups: [`platform@${domain}`],
      emails: [extra.email, 'ghost@nowhere.example.com'],
    });
    expectCounts(run, [...picked, extra], { user_not_found: 1 });
  });

  it('refuses what it cannot use: unknown org unit or group (live lookup), bad entries, too many, nothing', async () => {
    const domain = t.sandbox.google?.domain;
    let r = await refused('google', {
      selection: { org_units: [{ path: '/Nowhere' }], groups: [`ghosts@${domain}`] },
    });
    expect(r.status).toBe(422);
    expect(r.json.errors['selection.org_units']?.[0]?.description).toMatch(
      /org unit "\/Nowhere" does not exist/,
    );
    expect(r.json.errors['selection.groups']?.[0]?.description).toMatch(/group "ghosts@.*" does not exist/);

    // NUL and unpaired surrogates are refused by the API's input guard, naming the entry.
    r = await refused('google', {
      selection: { emails: ['ok@example.com', 'bad\u0000@example.com', '\ud800@example.com'] },
    });
    expect(r.status).toBe(422);
    expect(Object.keys(r.json.errors)).toEqual(['selection.emails.1']);
    r = await refused('google', { selection: { emails: ['\ud800@example.com'] } });
    expect(r.status).toBe(422);
    expect(Object.keys(r.json.errors)).toEqual(['selection.emails.0']);
    r = await refused('google', {
      selection: {
        emails: ['ok@example.com', 'not an email', 'x@', 'a@b@example.com', ' spaced@example.com '],
      },
    });
    expect(r.status).toBe(422);
    expect(r.json.errors['selection.emails']?.map((p) => p.description)).toEqual([
      'entry 1 ("not an email") is not an email address',
      'entry 2 ("x@") is not an email address',
      'entry 3 ("a@b@example.com") is not an email address',
    ]);

    const many = Array.from({ length: 50_001 }, (_, i) => `u${i}@example.com`);
    r = await refused('google', { selection: { emails: many } });
    expect(r.status).toBe(422);
    expect(JSON.stringify(r.json.errors)).toMatch(/at most 50000 emails/);

    for (const selection of [
      {},
      { org_unit: [{ path: '/Sales' }] },
      { domains: ['not a domain'] },
      { org_units: [{ path: 'Sales' }] },
    ]) {
      r = await refused('google', { selection });
      expect(r.status, JSON.stringify(selection)).toBe(422);
    }
  }, 60_000);
});

describe('a Microsoft selection', () => {
  it('takes a group with its transitive members (transitiveMembers/microsoft.graph.user, nested two levels, paged)', async () => {
    const all = await sandboxUsers('microsoft');
    const domain = t.sandbox.microsoft?.domain;
    const group = await graphGroupId(`all-hands@${domain}`);
    const members = all.filter((u) => u.groups?.includes(`all-hands@${domain}`));
    expect(members.length).toBeGreaterThan(500);
    const run = await dryRun('microsoft', { groups: [group] });
    expectMs(run, members);
  });

  it('takes a domain of the tenant', async () => {
    const users = (await sandboxUsers('microsoft')).filter((u) => u.email.endsWith(`@${EXTRA_DOMAIN}`));
    expect(users.length).toBeGreaterThan(40);
    expectMs(await dryRun('microsoft', { domains: [EXTRA_DOMAIN] }), users);
  });

  it('refuses org units, a group id that is not a GUID, and an unknown group', async () => {
    let r = await refused('microsoft', { selection: { org_units: [{ path: '/Sales' }] } });
    expect(r.status).toBe(422);
    expect(r.json.errors['selection.org_units']?.[0]?.description).toMatch(/no org units/);
    r = await refused('microsoft', { selection: { groups: ['engineering'] } });
    expect(r.status).toBe(422);
    r = await refused('microsoft', { selection: { groups: ['00000000-0000-4000-8000-000000000000'] } });
    expect(r.status).toBe(422);
    expect(r.json.errors['selection.groups']?.[0]?.description).toMatch(/does not exist/);
  });
});

/** A Graph group's id, read from the sandbox over Graph with the sandbox app's own token. */
async function graphGroupId(mail: string): Promise<string> {
  const ms = t.sandbox.microsoft;
  const tokenRes = await fetch(`${t.sandbox.url}/${ms?.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: ms?.clientId ?? '',
      client_secret: ms?.clientSecret ?? '',
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  const { access_token } = (await tokenRes.json()) as { access_token: string };
  const res = await fetch(`${t.sandbox.url}/v1.0/groups`, {
    headers: { authorization: `Bearer ${access_token}` },
  });
  const { value } = (await res.json()) as { value: { id: string; mail: string }[] };
  const g = value.find((v) => v.mail === mail);
  if (!g) {
    throw new Error(`no group ${mail}`);
  }
  return g.id;
}

/** Microsoft: shared mailboxes are disabled accounts with a mailbox (listed, provisionable). */
function expectMs(run: RunJson, users: SandboxUser[]) {
  expect(run.status).toBe('completed');
  expect(run.counts.listed).toBe(users.length);
  expect(run.counts.failed).toBe(0);
  const r = reasons(run);
  expect(r.user_suspended ?? 0).toBe(users.filter((u) => u.suspended && !u.shared).length);
  expect(run.counts.would_provision).toBe(run.counts.listed - run.counts.skipped);
}
