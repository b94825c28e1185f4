import { beforeAll, describe, expect, it } from 'vitest';
import { createAuditEvent } from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { type RegisteredSa, registerSandboxServiceAccount } from '../helpers/flow.js';
import { type RunJson, startRun, waitForRun } from '../helpers/runs.js';

/**
 * The audit log (issue 14): `GET /v1/audit_events` (this Application's events only, cursor-paged
 * past 100, filters), /admin/audit, and every way a run is retried or cancelled — the dashboard's
 * forms and bull-board's buttons, the API, the CLI — audited. Real Postgres, Redis, workers and a
 * sandbox run.
 */

const ADMIN_TOKEN = 'audit-admin-token-0123456789';
const t = useTestApp({
  env: { ADMIN_TOKEN },
  sandbox: { google: { users: 20, rooms: 2 }, microsoft: { users: 80, rooms: 3 } },
});
const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function get(path: string, headers: Record<string, string> = bearer) {
  const res = await fetch(`${t.url}${path}`, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function getJson<T>(path: string, token: string) {
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as T, text };
}

const cliEnv = () => ({
  DATABASE_URL: t.config.databaseUrl,
  QUEUE_PREFIX: t.config.redis.queuePrefix,
  ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
  LOG_LEVEL: 'silent',
});

let appA: { clientId: string; clientSecret: string; applicationId: string };
let appB: { clientId: string; clientSecret: string; applicationId: string };
let microsoft: RegisteredSa;
let google: RegisteredSa;
let run: RunJson;

beforeAll(async () => {
  appA = await t.createApplication();
  appB = await t.createApplication();
  microsoft = await registerSandboxServiceAccount(t, 'microsoft', appA.clientSecret);
  google = await registerSandboxServiceAccount(t, 'google', appB.clientSecret);
  const started = await startRun(t, microsoft.access_token, { include: ['users', 'rooms'] });
  run = await waitForRun(t, microsoft.access_token, started.id);
}, 180_000);

type AuditJson = {
  id: string;
  type: string;
  actor: string;
  object: { type: string; id: string };
  data: Record<string, unknown>;
  created_at: string;
};
type AuditPage = { audit_events: AuditJson[]; next_cursor: string | null };

describe('the audit log', () => {
  it('audits dashboard actions under the Application whose object they touched', async () => {
    const retry = await fetch(`${t.url}/admin/runs/${run.id}/retry`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    expect(retry.status).toBe(303);
    const refused = await fetch(`${t.url}/admin/runs/${run.id}/cancel`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'csrf=not-ours',
      redirect: 'manual',
    });
    expect(refused.headers.get('location')).toContain('notice=bad-form');
    const allRetried = await fetch(`${t.url}/admin/deliveries/retry-all`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    expect(allRetried.status).toBe(303);
    const paused = await fetch(`${t.url}/admin/queues/api/queues/provisioning/pause`, {
      method: 'PUT',
      headers: bearer,
    });
    expect(paused.status).toBeLessThan(500);
    await fetch(`${t.url}/admin/queues/api/queues/provisioning/resume`, { method: 'PUT', headers: bearer });

    const mine = await getJson<AuditPage>(`/v1/audit_events?object_id=${run.id}`, appA.clientSecret);
    expect(mine.status).toBe(200);
    const types = mine.json.audit_events.map((e) => e.type);
    expect(types).toEqual(['run.cancelled', 'run.retried']);
    const [cancelled, retried] = mine.json.audit_events;
    expect(retried).toMatchObject({ actor: 'admin', object: { type: 'provisioning_run', id: run.id } });
    expect(retried?.data).toMatchObject({
      route: '/admin/runs/:id/retry',
      status: 303,
      outcome: 'retried',
      via: 'bearer',
    });
    expect(cancelled?.data).toMatchObject({ outcome: 'bad-form', via: 'browser' });

    const page = await get('/admin/audit?type=deliveries.retried');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<code>deliveries.retried</code>');
    expect(page.text).not.toContain('<code>run.retried</code>');
    const ofA = await get(`/admin/audit?application=${appA.applicationId}&type=run.retried`);
    expect(ofA.text).toContain('<code>run.retried</code>');
    const ofB = await get(`/admin/audit?application=${appB.applicationId}&type=run.retried`);
    expect(ofB.text).toContain('No audit events match.');
    expect((await get('/admin/audit?application=nope')).status).toBe(422);
    const queues = await get('/admin/audit?type=queue.pause&object_type=&actor=admin');
    expect(queues.text).toContain('<code>queue.pause</code>');
  });

  it('audits runs retried and cancelled through the API, with the Service Account as the actor', async () => {
    const post = (path: string) =>
      fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${microsoft.access_token}` },
      });
    expect((await post(`/v1/provisioning_runs/${run.id}/retry`)).status).toBe(202);
    expect((await post(`/v1/provisioning_runs/run_${'a'.repeat(26)}/cancel`)).status).toBe(404);
    const r = await getJson<AuditPage>(
      `/v1/audit_events?object_id=${run.id}&type=run.retried`,
      appA.clientSecret,
    );
    expect(r.json.audit_events[0]).toMatchObject({
      type: 'run.retried',
      actor: `service_account:${microsoft.service_account_id}`,
      object: { type: 'provisioning_run', id: run.id },
      data: { via: 'api' },
    });
    const none = await getJson<AuditPage>(
      `/v1/audit_events?object_id=run_${'a'.repeat(26)}`,
      appA.clientSecret,
    );
    expect(none.json.audit_events).toEqual([]);
  });

  it('audits `ec runs retry` with the CLI as the actor', async () => {
    const r = await runEc(['runs', 'retry', run.id, '--json'], cliEnv());
    expect(r.code, r.stderr).toBe(0);
    const page = await getJson<AuditPage>(
      `/v1/audit_events?object_id=${run.id}&actor=cli`,
      appA.clientSecret,
    );
    expect(page.json.audit_events).toHaveLength(1);
    expect(page.json.audit_events[0]).toMatchObject({ type: 'run.retried', data: { via: 'cli' } });
  });

  it("lists only the caller's events: another Application's objects match nothing", async () => {
    const a = await getJson<AuditPage>('/v1/audit_events', appA.clientSecret);
    expect(
      a.json.audit_events.some(
        (e) => e.type === 'service_account.created' && e.object.id === microsoft.service_account_id,
      ),
    ).toBe(true);
    expect(a.json.audit_events.some((e) => e.object.id === google.service_account_id)).toBe(false);
    const b = await getJson<AuditPage>(
      `/v1/audit_events?object_id=${microsoft.service_account_id}`,
      appB.clientSecret,
    );
    expect(b.status).toBe(200);
    expect(b.json).toEqual({ audit_events: [], next_cursor: null });
    const bRun = await getJson<AuditPage>(`/v1/audit_events?object_id=${run.id}`, appB.clientSecret);
    expect(bRun.json.audit_events).toEqual([]);
  });

  it('pages past 100 newest first with a cursor, and filters by type, object and time', async () => {
    const db = t.runtime.app.db;
    const base = Date.now() - 3_600_000;
    // 250 events, several in the same millisecond (the cursor must not skip them).
    for (let i = 0; i < 250; i++) {
      await createAuditEvent(db, {
        applicationId: appA.applicationId,
        actor: 'test',
        action: 'test.paged',
        subjectType: 'thing',
        subjectId: `thing-${i}`,
        createdAt: new Date(base + Math.floor(i / 5)),
      });
    }
    const seen: AuditJson[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/audit_events?type=test.paged&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await getJson<AuditPage>(q, appA.clientSecret);
      expect(r.status, r.text).toBe(200);
      seen.push(...r.json.audit_events);
      cursor = r.json.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen.map((e) => e.id)).size).toBe(250);
    const times = seen.map((e) => Date.parse(e.created_at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);

    const window = await getJson<AuditPage>(
      `/v1/audit_events?type=test.paged&from=${new Date(base + 10).toISOString()}&to=${new Date(base + 20).toISOString()}`,
      appA.clientSecret,
    );
    expect(window.json.audit_events).toHaveLength(50);
    const one = await getJson<AuditPage>(
      '/v1/audit_events?object_type=thing&object_id=thing-7',
      appA.clientSecret,
    );
    expect(one.json.audit_events.map((e) => e.object.id)).toEqual(['thing-7']);
    expect(
      (await getJson<AuditPage>('/v1/audit_events?type=test.paged', appB.clientSecret)).json.audit_events,
    ).toEqual([]);
  });

  it('answers bad credentials 401 and bad queries 422, never a 500', async () => {
    expect((await fetch(`${t.url}/v1/audit_events`)).status).toBe(401);
    expect((await getJson('/v1/audit_events', microsoft.access_token)).status).toBe(401);
    for (const q of ['cursor=abc', 'from=yesterday', 'limit=0', 'limit=501', 'type=%00', 'type=a%20b']) {
      const r = await getJson<{ errors?: Record<string, unknown> }>(
        `/v1/audit_events?${q}`,
        appA.clientSecret,
      );
      expect(r.status, q).toBe(422);
    }
    expect((await getJson('/v1/audit_events?type=%ff', appA.clientSecret)).status).toBe(422);
  });
});
