import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema/accounts.js';
import { profiles } from '../../src/db/schema/profiles.js';
import type { SandboxUser } from '../../src/sandbox/index.js';
import { syncDirectoryNow } from '../../src/services/directory-sync.js';
import { deleteOldRecords } from '../../src/services/retention.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { api, startRun, waitForRun } from '../helpers/runs.js';

const t = useTestApp({ sandbox: { google: { users: 200, rooms: 5, structure: true }, microsoft: false } });

const inSales = (u: SandboxUser) =>
  u.orgUnitPath === '/Sales' || u.orgUnitPath?.startsWith('/Sales/') === true;
const usable = (u: SandboxUser) => !u.suspended && u.mailbox;

async function sandboxUsers(): Promise<SandboxUser[]> {
  return (await t.sandbox.control.listUsers('google', { offset: 0, limit: 1000 })).users;
}

async function accountOf(serviceAccountId: string, email: string) {
  const db = t.runtime.app.db;
  const [row] = await db
    .select({ status: accounts.status, connected: profiles.connected, reason: profiles.disconnectReason })
    .from(accounts)
    .innerJoin(profiles, eq(profiles.accountId, accounts.id))
    .where(
      and(eq(accounts.serviceAccountId, serviceAccountId), eq(accounts.emailLower, email.toLowerCase())),
    );
  return row;
}

describe("a Service Account's default selection", () => {
  it('is kept by its runs and its directory sync: a user who leaves it is removed, revoked after the grace period', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret, {
      selection: { org_units: [{ path: '/Sales' }] },
    });
    const shown = await api<{ service_account: { selection: unknown } }>(
      t,
      app.clientSecret,
      'GET',
      `/v1/service_accounts/${sa.service_account_id}`,
    );
    expect(shown.json.service_account.selection).toEqual({
      org_units: [{ path: '/Sales', include_children: true }],
      groups: [],
      domains: [],
      emails: 0,
    });

    // A run without a selection of its own takes the Service Account's.
    const before = (await sandboxUsers()).filter(inSales);
    const run = await waitForRun(
      t,
      sa.access_token,
      (await startRun(t, sa.access_token, { verify: 'directory' })).id,
    );
    expect(run.counts.listed).toBe(before.length);
    expect(run.counts.provisioned).toBe(before.filter(usable).length);

    // A sync of an unchanged directory removes nobody (no user outside the selection appears either).
    const same = await syncDirectoryNow(t.runtime.app, sa.service_account_id);
    expect(same).toMatchObject({ outcome: 'finished', removed: 0, revoked: 0 });
    expect(same.outcome === 'finished' && same.tally.users.listed).toBe(before.length);

    // An admin moves one of them to Engineering: it left the selection.
    const leaver = before.find((u) => usable(u) && !u.admin) as SandboxUser;
    const moved = await fetch(
      `${t.sandbox.url}/_sandbox/google/users/${encodeURIComponent(leaver.email)}/org_unit`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ org_unit_path: '/Engineering' }),
      },
    );
    expect(moved.status).toBe(200);
    const first = await syncDirectoryNow(t.runtime.app, sa.service_account_id);
    expect(first).toMatchObject({ outcome: 'finished', removed: 1, disconnected: 1, revoked: 0 });
    expect(await accountOf(sa.service_account_id, leaver.email)).toEqual({
      status: 'active',
      connected: false,
      reason: 'user_not_found',
    });
    // Within the grace period nothing is revoked; past it, the leaver's Account is, and only it.
    expect(await syncDirectoryNow(t.runtime.app, sa.service_account_id)).toMatchObject({ revoked: 0 });
    expect(await syncDirectoryNow(t.runtime.app, sa.service_account_id, { graceMs: 0 })).toMatchObject({
      outcome: 'finished',
      revoked: 1,
    });
    expect((await accountOf(sa.service_account_id, leaver.email))?.status).toBe('revoked');
    const stayer = before.find((u) => usable(u) && u.email !== leaver.email) as SandboxUser;
    expect(await accountOf(sa.service_account_id, stayer.email)).toMatchObject({
      status: 'active',
      connected: true,
    });
  }, 120_000);

  it("names emails: each run works on its own copy, which records.retention deletes with the run's items", async () => {
    const users = (await sandboxUsers()).filter((u) => usable(u) && !u.admin).slice(0, 6);
    const emails = [...users.map((u) => u.email), 'left.long.ago@example.com'];
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret, { selection: { emails } });
    const run = await waitForRun(
      t,
      sa.access_token,
      (await startRun(t, sa.access_token, { dry_run: true, verify: 'directory' })).id,
    );
    expect(run.counts.listed).toBe(7);
    expect(run.counts.would_provision).toBe(6);
    expect(run.skipped_by_reason).toEqual([{ error_key: 'user_not_found', count: 1 }]);
    const count = async (owner: string) =>
      (
        await t.runtime.app.db.execute<{ n: number }>(
          sql`select count(*)::int as n from selection_emails where owner_id = ${owner}`,
        )
      )[0]?.n;
    expect([await count(run.id), await count(sa.service_account_id)]).toEqual([7, 7]);
    await deleteOldRecords(t.runtime.app, { now: Date.now() + 400 * 86_400_000 });
    expect([await count(run.id), await count(sa.service_account_id)]).toEqual([0, 7]);
  });

  it('is checked live at registration: an unknown org unit is a 422 and nothing is registered', async () => {
    const app = await t.createApplication();
    const sb = t.sandbox.google;
    const res = await fetch(`${t.url}/v1/service_accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.clientSecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'google',
        domain: sb?.domain,
        admin_email: sb?.adminEmail,
        credentials: sb?.serviceAccountKey,
        selection: { org_units: [{ path: '/Marketing' }] },
      }),
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { errors: Record<string, { description: string }[]> };
    expect(body.errors['selection.org_units']?.[0]?.description).toMatch(/"\/Marketing" does not exist/);
  });
});
