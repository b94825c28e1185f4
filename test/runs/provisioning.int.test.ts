import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { api, getRun, startRun, waitForRun } from '../helpers/runs.js';

const t = useTestApp({
  sandbox: { google: { users: 300, rooms: 40 }, microsoft: { users: 200, rooms: 30 } },
});
const receiver = useReceiver();

/** What the sandbox says a run over everything should find. */
async function truth(provider: 'google' | 'microsoft') {
  const users = (await t.sandbox.control.listUsers(provider, { offset: 0, limit: 1000 })).users;
  const rooms = (await t.sandbox.control.listRooms(provider, { offset: 0, limit: 1000 })).rooms;
  return { users, rooms };
}

describe.each(['google', 'microsoft'] as const)('a provisioning run (%s)', (provider) => {
  it('onboards the whole directory with exact counts and one signed callback per Account', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
    const path = `/run-${provider}`;
    const started = await startRun(t, sa.access_token, {
      include: ['users', 'rooms'],
      callback_url: `${receiver.url}${path}`,
      scope: 'read_only',
      state: 'onboarding',
    });
    expect(started.status).toBe('queued');
    const run = await waitForRun(t, sa.access_token, started.id);
    const { users, rooms } = await truth(provider);

    const { counts } = run;
    const top = run as unknown as Record<string, number>;
    expect([top.listed, top.provisioned, top.skipped, top.failed]).toEqual([
      counts.listed,
      counts.provisioned,
      counts.skipped,
      counts.failed,
    ]);
    expect(counts.pending).toBe(0);
    expect(counts.listed).toBe(counts.provisioned + counts.skipped + counts.failed);
    const suspended = users.filter((u) => u.suspended && !u.shared).length;
    const noMailbox = users.filter((u) => !u.mailbox && !u.suspended).length;
    expect(counts.skipped).toBeGreaterThanOrEqual(suspended + noMailbox - 2);
    // The reasons add up to the counts, and are the items' own.
    const sum = (rs: { count: number }[]) => rs.reduce((a, r) => a + r.count, 0);
    expect(sum(run.skipped_by_reason)).toBe(counts.skipped);
    expect(sum(run.failures_by_reason)).toBe(counts.failed);
    const byReason = await t.runtime.app.db.execute<{ status: string; error_key: string; count: number }>(
      sql`select status, error_key, count(*)::int as count from run_items
          where run_id = ${run.id} and status in ('skipped', 'failed') group by 1, 2`,
    );
    const reported = (status: string) =>
      byReason
        .filter((r) => r.status === status)
        .map((r) => ({ error_key: r.error_key, count: r.count }))
        .sort((a, b) => b.count - a.count || a.error_key.localeCompare(b.error_key));
    expect(run.skipped_by_reason).toEqual(reported('skipped'));
    expect(run.failures_by_reason).toEqual(reported('failed'));
    expect(counts.skipped).toBeGreaterThan(0);
    // Every room is listed once (Microsoft rooms also appear in /users: never twice).
    const db = t.runtime.app.db;
    const [{ n: roomItems } = { n: 0 }] = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from run_items where run_id = ${run.id} and kind = 'room'`,
    );
    expect(roomItems).toBe(rooms.length);
    const [{ n: dup } = { n: 0 }] = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from (select email_lower from accounts group by service_account_id, email_lower having count(*) > 1) d`,
    );
    expect(dup).toBe(0);
    expect(run.status).toBe(counts.failed > 0 ? 'completed_with_errors' : 'completed');

    const callbacks = await receiver.waitForCount(counts.provisioned + counts.failed, (r) => r.path === path);
    const codes = callbacks.filter(
      (c) => (c.json as { authorization: { code?: string } }).authorization.code,
    );
    expect(codes).toHaveLength(counts.provisioned);
    expect(callbacks.every((c) => typeof c.headers['cronofy-hmac-sha256'] === 'string')).toBe(true);

    // Items are paged with a cursor and filtered by status; reasons are reported.
    let cursor: string | null = null;
    let seen = 0;
    do {
      const page: {
        status: number;
        json: { items: { status: string; error_key: string | null }[]; next_cursor: string | null };
      } = await api(
        t,
        sa.access_token,
        'GET',
        `/v1/provisioning_runs/${run.id}/items?status=skipped&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.json.items.every((i) => i.status === 'skipped' && i.error_key)).toBe(true);
      seen += page.json.items.length;
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toBe(counts.skipped);
  });
});

describe('dry runs, re-runs and verification strategies', () => {
  it('a dry run changes nothing and says who would be provisioned or skipped', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const before = await t.runtime.app.db.execute<{ n: number }>(
      sql`select count(*)::int as n from accounts`,
    );
    const run = await waitForRun(
      t,
      sa.access_token,
      (await startRun(t, sa.access_token, { include: ['users'], dry_run: true })).id,
    );
    expect(run.counts.would_provision).toBeGreaterThan(0);
    expect(run.counts.provisioned).toBe(0);
    expect(run.skipped_by_reason.map((r) => r.error_key)).toEqual(expect.arrayContaining(['user_suspended']));
    const after = await t.runtime.app.db.execute<{ n: number }>(sql`select count(*)::int as n from accounts`);
    expect(after[0]?.n).toBe(before[0]?.n);
  });

  it('a second run skips what is already provisioned; verify=directory makes no mailbox calls', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
    await t.sandbox.control.resetCounters();
    const first = await waitForRun(
      t,
      sa.access_token,
      (await startRun(t, sa.access_token, { include: ['rooms'], verify: 'directory' })).id,
    );
    expect(first.counts.provisioned).toBeGreaterThan(0);
    const counters = (await t.sandbox.control.counters()) as unknown as { calls: Record<string, number> };
    const calendarCalls = Object.entries(counters.calls)
      .filter(([k]) => k.includes('/calendar'))
      .reduce((a, [, v]) => a + v, 0);
    expect(calendarCalls).toBe(0);
    const second = await waitForRun(
      t,
      sa.access_token,
      (await startRun(t, sa.access_token, { include: ['rooms'] })).id,
    );
    expect(second.counts.provisioned).toBe(0);
    expect(second.counts.skipped).toBe(first.counts.provisioned);
    expect(second.skipped_by_reason).toEqual([
      { error_key: 'already_provisioned', count: first.counts.provisioned },
    ]);
  });

  it('validates the request and keeps runs private to their Service Account', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const other = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    expect(
      (await api(t, sa.access_token, 'POST', '/v1/provisioning_runs', { include: ['printers'] })).status,
    ).toBe(422);
    expect(
      (await api(t, sa.access_token, 'POST', '/v1/provisioning_runs', { callback_url: 'ftp://x' })).status,
    ).toBe(422);
    expect(
      (await api(t, sa.access_token, 'POST', '/v1/provisioning_runs', { scope: 'everything' })).status,
    ).toBe(403);
    const run = await startRun(t, sa.access_token, { include: ['rooms'] });
    expect((await api(t, other.access_token, 'GET', `/v1/provisioning_runs/${run.id}`)).status).toBe(404);
    expect(
      (await api(t, sa.access_token, 'GET', `/v1/provisioning_runs/${run.id}/items?status=bogus`)).status,
    ).toBe(422);
    await waitForRun(t, sa.access_token, run.id);
    expect((await getRun(t, sa.access_token, run.id)).status).toMatch(/^completed/);
  });
});
