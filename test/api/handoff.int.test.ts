import { setTimeout as sleep } from 'node:timers/promises';
import Cronofy from 'cronofy';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema/accounts.js';
import { authorizationCodes } from '../../src/db/schema/authorization-codes.js';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { reconcile } from '../../src/services/reconcile.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { type Received, useReceiver } from '../helpers/receiver.js';
import { flushDeployment } from '../helpers/redis.js';
import { api, getRun, startRun, waitForRun } from '../helpers/runs.js';

const t = useTestApp({
  sandbox: { google: { users: 1_100, rooms: 10 }, microsoft: false, faults: { latencyMs: 2 } },
});
const receiver = useReceiver();

type Authorization = { authorization: { code?: string; email: string; error_key?: string; state?: string } };
const authOf = (r: Received) => (r.json as Authorization).authorization;

function sdk(app: { clientId: string; clientSecret: string }): Cronofy {
  const client = new Cronofy({ client_id: app.clientId, client_secret: app.clientSecret });
  client.urls.api = t.url;
  return client;
}

const db = () => t.runtime.app.db;

describe('the hand-off to the app', () => {
  it('a receiver down for longer than a code lives gets, once back, codes that all redeem', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    receiver.failNext(1_000_000, 503);
    const path = '/down-then-back';
    const run = await startRun(t, sa.access_token, {
      include: ['rooms'],
      callback_url: `${receiver.url}${path}`,
      scope: 'read_only',
      state: 'rooms',
      verify: 'directory',
    });
    const final = await waitForRun(t, sa.access_token, run.id, 60_000);
    expect(final.counts.provisioned).toBeGreaterThan(0);
    // Every callback was tried once and refused.
    for (;;) {
      const [left] = await db()
        .select({ n: sql<number>`count(*)::int` })
        .from(outboundDeliveries)
        .where(and(eq(outboundDeliveries.runId, run.id), eq(outboundDeliveries.attempts, 0)));
      if (left?.n === 0) {
        break;
      }
      await sleep(50);
    }
    const firstCodes = receiver.refused.filter((r) => r.path === path).map((r) => authOf(r).code);
    expect(firstCodes.length).toBeGreaterThanOrEqual(final.counts.provisioned);
    const pending = await getRun(t, sa.access_token, run.id);
    expect((pending as unknown as { callbacks_pending: number }).callbacks_pending).toBe(
      final.counts.provisioned + final.counts.failed,
    );
    // An hour passes: every code minted so far is long dead, and the retries are due.
    await db()
      .update(authorizationCodes)
      .set({ expiresAt: new Date(Date.now() - 3_600_000) })
      .where(eq(authorizationCodes.applicationId, app.applicationId));
    receiver.failNext(0);
    await db()
      .update(outboundDeliveries)
      .set({ nextAttemptAt: new Date(Date.now() - 1) })
      .where(eq(outboundDeliveries.runId, run.id));
    const emails = await receiver.waitForDistinct(
      final.counts.provisioned,
      (r) => r.path === path && authOf(r).code !== undefined,
      (r) => authOf(r).email,
      30_000,
    );
    expect(emails.size).toBe(final.counts.provisioned);
    const client = sdk(app);
    const subs = new Set<string>();
    for (const hit of receiver.received.filter((r) => r.path === path && authOf(r).code)) {
      const code = authOf(hit).code ?? '';
      expect(firstCodes).not.toContain(code);
      const token = await client.requestAccessToken({ code, redirect_uri: `${receiver.url}${path}` });
      subs.add(String(token.sub));
    }
    expect(subs.size).toBe(final.counts.provisioned);
    // A dead letter re-sent by hand carries a fresh code too.
    const [one] = await db()
      .update(outboundDeliveries)
      .set({ status: 'dead', deadAt: new Date() })
      .where(and(eq(outboundDeliveries.runId, run.id), isNotNull(outboundDeliveries.codeScope)))
      .returning({ id: outboundDeliveries.id });
    expect(one).toBeDefined();
    const before = receiver.received.length;
    const { retryDeadDeliveries } = await import('../../src/services/operations.js');
    expect(await retryDeadDeliveries(t.runtime.app)).toBeGreaterThan(0);
    const resent = await receiver.waitFor(
      (r) => receiver.received.indexOf(r) >= before && r.path === path,
      20_000,
    );
    const token = await client.requestAccessToken({
      code: authOf(resent).code ?? '',
      redirect_uri: `${receiver.url}${path}`,
    });
    expect(token.sub).toMatch(/^acc_/);
  }, 120_000);

  it('a Redis flush right after a 1,000-email bulk request answered 202: every email still gets its callback, once', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const { users } = await t.sandbox.control.listUsers('google', { offset: 0, limit: 1_000 });
    expect(users.length).toBe(1_000);
    const path = '/bulk-flush';
    const body = {
      service_account_authorizations: users.map((u) => ({
        email: u.email,
        callback_url: `${receiver.url}${path}`,
        scope: 'read_only',
        state: 'bulk',
      })),
    };
    const posted = await api(t, sa.access_token, 'POST', '/v1/service_account_authorizations', body);
    expect(posted.status).toBe(202);
    expect(await flushDeployment(t.config.redis.queuePrefix)).toBeGreaterThan(0);
    // The client timed out and posts the same batch again: nothing is asked twice.
    const again = await api(t, sa.access_token, 'POST', '/v1/service_account_authorizations', body);
    expect(again.status).toBe(202);
    // The scheduler's reconcile sweep, with a short threshold.
    const sweeper = setInterval(() => {
      void reconcile(t.runtime.app, { staleAuthorizationMs: 5_000 }).catch(() => {});
    }, 2_000);
    try {
      const emails = await receiver.waitForDistinct(
        1_000,
        (r) => r.path === path,
        (r) => authOf(r).email.toLowerCase(),
        200_000,
      );
      expect(emails.size).toBe(1_000);
    } finally {
      clearInterval(sweeper);
    }
    const [requests] = await db().execute<{ n: number; pending: number }>(
      sql`select count(*)::int as n, count(*) filter (where status = 'pending')::int as pending
            from authorization_requests where service_account_id = ${sa.service_account_id}`,
    );
    expect(requests).toEqual({ n: 1_000, pending: 0 });
    const [stored] = await db().execute<{ n: number }>(
      sql`select count(*)::int as n from outbound_deliveries where application_id = ${app.applicationId}`,
    );
    expect(stored?.n).toBe(1_000);
    const withCode = receiver.received.filter((r) => r.path === path && authOf(r).code);
    expect(withCode.length).toBeGreaterThan(800);
    expect(new Set(withCode.map((r) => authOf(r).email)).size).toBe(withCode.length);
  }, 300_000);

  it('a bulk request naming more than 20 callback hosts is refused before anything is recorded', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const res = await api<{ errors: Record<string, { description: string }[]> }>(
      t,
      sa.access_token,
      'POST',
      '/v1/service_account_authorizations',
      {
        service_account_authorizations: Array.from({ length: 21 }, (_, i) => ({
          email: `user${i}@example.com`,
          callback_url: `http://host${i}.example.com/cb`,
          scope: 'read_only',
        })),
      },
    );
    expect(res.status).toBe(422);
    expect(res.json.errors.service_account_authorizations?.[0]?.description).toMatch(/more than 20/);
    const [stored] = await db().execute<{ n: number }>(
      sql`select count(*)::int as n from authorization_requests where service_account_id = ${sa.service_account_id}`,
    );
    expect(stored?.n).toBe(0);
  });

  it('a Service Account revoked mid-run: the run is cancelled, and nothing is activated, minted or sent after', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const path = '/revoked-mid-run';
    const run = await startRun(t, sa.access_token, {
      include: ['users'],
      callback_url: `${receiver.url}${path}`,
      scope: 'read_only',
      verify: 'mailbox',
    });
    for (;;) {
      const now = await getRun(t, sa.access_token, run.id);
      if (now.counts.provisioned >= 50) {
        break;
      }
      expect(now.status).not.toMatch(/^completed/);
      await sleep(10);
    }
    const res = await fetch(`${t.url}/v1/service_accounts/${sa.service_account_id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${app.clientSecret}` },
    });
    expect(res.status).toBeLessThan(300);
    const revokedAt = new Date();
    const [run1] = await db().execute<{ status: string; provisioned: number }>(
      sql`select status, provisioned from provisioning_runs where id = ${run.id}`,
    );
    expect(run1?.status).toBe('cancelled');
    // Let every batch in flight finish (or fail to).
    await sleep(3_000);
    const [run2] = await db().execute<{ status: string; provisioned: number }>(
      sql`select status, provisioned from provisioning_runs where id = ${run.id}`,
    );
    expect(run2).toEqual(run1);
    const active = await db()
      .select({ n: sql<number>`count(*)::int` })
      .from(accounts)
      .where(and(eq(accounts.serviceAccountId, sa.service_account_id), eq(accounts.status, 'active')));
    expect(active[0]?.n).toBe(0);
    const [minted] = await db().execute<{ n: number }>(
      sql`select count(*)::int as n from authorization_codes where application_id = ${app.applicationId}
            and created_at > ${revokedAt.toISOString()}::timestamptz`,
    );
    expect(minted?.n).toBe(0);
    const [waiting] = await db().execute<{ n: number }>(
      sql`select count(*)::int as n from outbound_deliveries where run_id = ${run.id} and status = 'pending'
            and code_scope is not null`,
    );
    expect(waiting?.n).toBe(0);
    // The codes sent before the revocation no longer redeem.
    const sent = receiver.received.filter((r) => r.path === path && authOf(r).code);
    const client = sdk(app);
    for (const hit of sent.slice(0, 5)) {
      await expect(
        client.requestAccessToken({ code: authOf(hit).code ?? '', redirect_uri: `${receiver.url}${path}` }),
      ).rejects.toMatchObject({ statusCode: 400 });
    }
  }, 120_000);
});
