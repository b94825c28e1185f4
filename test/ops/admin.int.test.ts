import { describe, expect, it } from 'vitest';
import { csrfToken } from '../../src/api/admin/auth.js';
import { buildServer } from '../../src/api/server.js';
import { findDelivery } from '../../src/db/queries/deliveries.js';
import { createOutboundDelivery } from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { startRun, waitForRun } from '../helpers/runs.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
const t = useTestApp({
  env: { ADMIN_TOKEN },
  sandbox: { google: { users: 120, rooms: 8 }, microsoft: { users: 150, rooms: 5 } },
});

const basic = (password: string, user = 'admin') =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function get(path: string, authorization?: string) {
  const res = await fetch(`${t.url}${path}`, {
    headers: authorization ? { authorization } : {},
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function post(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

describe('admin auth', () => {
  it.each(['/admin', '/metrics', '/admin/queues', '/admin/runs', '/admin/queues/api/queues'])(
    '%s needs ADMIN_TOKEN (bearer or basic password)',
    async (path) => {
      const none = await get(path);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect((await get(path, 'Bearer wrong-token-wrong-token')).status).toBe(401);
      expect((await get(path, basic('wrong-token-wrong-token'))).status).toBe(401);
      expect((await get(path, `Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
      expect((await get(path, basic(ADMIN_TOKEN, 'anyone'))).status).toBe(200);
    },
  );

  it('answers 403 "ADMIN_TOKEN not configured" when it is unset', async () => {
    const app = {
      ...t.runtime.app,
      config: { ...t.runtime.app.config, adminToken: undefined, metricsToken: undefined },
    };
    const server = await buildServer(app, { queues: t.runtime.queues });
    try {
      for (const url of ['/admin', '/metrics', '/admin/queues']) {
        const res = await server.inject({ url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(res.statusCode).toBe(403);
        expect(res.body).toContain('ADMIN_TOKEN not configured');
      }
    } finally {
      await server.close();
    }
  });

  it('bull-board lists every queue', async () => {
    const res = await get('/admin/queues/api/queues', `Bearer ${ADMIN_TOKEN}`);
    const names = (JSON.parse(res.text) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['authorizations', 'directory', 'maintenance', 'profiles', 'provisioning']);
  });
});

describe('admin dashboard', () => {
  it('shows a run with counts and failures by reason, and retries its failed items from a form', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
    const started = await startRun(t, sa.access_token, { include: ['users', 'rooms'] });
    const run = await waitForRun(t, sa.access_token, started.id);
    expect(run.counts.failed).toBeGreaterThan(0);

    const overview = await get('/admin', basic(ADMIN_TOKEN));
    expect(overview.text).toContain(run.id);
    expect(overview.text).toContain(t.sandbox.microsoft?.domain);
    expect(overview.text).toContain('<meta http-equiv="refresh"');

    const page = await get(`/admin/runs/${run.id}`, basic(ADMIN_TOKEN));
    expect(page.status).toBe(200);
    expect(page.text).toContain(
      `<tr><td>Listed</td><td>${run.counts.listed.toLocaleString('en-US')}</td></tr>`,
    );
    expect(page.text).toContain(
      `<tr><td>Failed</td><td>${run.counts.failed.toLocaleString('en-US')}</td></tr>`,
    );
    for (const r of [...run.failures_by_reason, ...run.skipped_by_reason]) {
      expect(page.text).toContain(r.error_key);
    }

    // A browser POST (basic auth) without the form token is refused; cross-site is refused outright.
    const noToken = await post(`/admin/runs/${run.id}/retry`, {}, { authorization: basic(ADMIN_TOKEN) });
    expect(noToken.status).toBe(303);
    expect(noToken.location).toContain('notice=bad-form');
    const crossSite = await post(
      `/admin/runs/${run.id}/retry`,
      { csrf: csrfToken(ADMIN_TOKEN) },
      { authorization: basic(ADMIN_TOKEN), origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    const ok = await post(
      `/admin/runs/${run.id}/retry`,
      { csrf: csrfToken(ADMIN_TOKEN) },
      { authorization: basic(ADMIN_TOKEN), origin: t.url },
    );
    expect(ok.status).toBe(303);
    expect(ok.location).toBe(`/admin/runs/${run.id}?notice=retried:${run.counts.failed}`);
    await waitForRun(t, sa.access_token, run.id);
  });

  it('lists dead letters and re-queues one', async () => {
    const app = await t.createApplication();
    const dead = await createOutboundDelivery(t.runtime.app.db, t.runtime.app.keyring, app.applicationId, {
      url: 'http://127.0.0.1:9/never',
      status: 'dead',
      attempts: 12,
      lastStatusCode: 500,
      lastError: 'HTTP 500',
      deadAt: new Date(),
    });
    const page = await get('/admin/deliveries', `Bearer ${ADMIN_TOKEN}`);
    expect(page.text).toContain(dead.id);
    expect(page.text).toContain('HTTP 500');
    // Bearer callers (scripts) need no form token.
    const res = await post(
      `/admin/deliveries/${dead.id}/retry`,
      {},
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(res.location).toBe('/admin/deliveries?notice=delivery-retried');
    const after = await findDelivery(t.runtime.app.db, dead.id);
    expect(after?.status === 'pending' || after?.attempts === 13).toBe(true);
  });

  it('renders the other pages', async () => {
    for (const path of ['/admin/service-accounts', '/admin/profiles', '/admin/runs']) {
      const res = await get(path, basic(ADMIN_TOKEN));
      expect(res.status, path).toBe(200);
      expect(res.text).toContain('<nav>');
    }
  });
});
