import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ENQUEUE_TIMEOUT_MS } from '../../src/runtime.js';
import { reconcile } from '../../src/services/reconcile.js';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { type OwnRedis, ownRedis } from '../helpers/own-redis.js';
import { useReceiver } from '../helpers/receiver.js';
import { startRun, waitForRun } from '../helpers/runs.js';

// Redis down: the API keeps answering what needs no queue (run status, userinfo, token exchange),
// accepts what it records in Postgres first (runs, authorization requests: the reconciler queues
// them later), answers 503 with Retry-After at once for what cannot go on without Redis, and
// /readyz says 503 quickly without the driver's words. Our own Redis: the shared one is never stopped.
let redis: OwnRedis | undefined;
beforeAll(async () => {
  redis = await ownRedis();
  await redis.start();
});
afterAll(async () => {
  await redis?.stop();
});

const t = useTestApp({
  sandbox: { google: { users: 30, rooms: 0 }, microsoft: false },
  enqueueTimeoutMs: API_ENQUEUE_TIMEOUT_MS,
  env: {
    get REDIS_URL() {
      return redis?.url ?? '';
    },
    REDIS_CLUSTER_NODES: '',
  },
});
const receiver = useReceiver();

/** An answer and how long it took. */
async function timed(path: string, init: RequestInit = {}) {
  const started = performance.now();
  const res = await fetch(`${t.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, ms: performance.now() - started };
}

describe('the API with Redis down', () => {
  it('answers fast: 200/202 where no queue is needed, 503 with Retry-After where one is', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const [user] = await usableUsers(t, 'google', 1);
    const account = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
    const done = await waitForRun(t, sa.access_token, (await startRun(t, sa.access_token, {})).id, 60_000);
    const profileId = (account.linking_profile as { profile_id: string }).profile_id;

    await redis?.stop();
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const json = { 'content-type': 'application/json' };

    const ready = await timed('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(2_500);
    const checks = (JSON.parse(ready.text) as { checks: Record<string, string> }).checks;
    expect(checks).toEqual({ postgres: 'ok', redis: expect.stringMatching(/^(timeout|unavailable)$/) });
    expect(ready.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|Connection|closed/i);

    const status = await timed(`/v1/provisioning_runs/${done.id}`, { headers: bearer(sa.access_token) });
    expect(status.status, status.text).toBe(200);
    expect(status.ms).toBeLessThan(1_500);
    const userinfo = await timed('/v1/userinfo', { headers: bearer(account.access_token) });
    expect(userinfo.status, userinfo.text).toBe(200);
    expect(userinfo.ms).toBeLessThan(1_500);
    const refreshed = await timed('/oauth/token', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        grant_type: 'refresh_token',
        client_id: app.clientId,
        client_secret: app.clientSecret,
        refresh_token: account.refresh_token,
      }),
    });
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(refreshed.ms).toBeLessThan(1_500);

    // Recorded in Postgres first: accepted, queued by the reconciler once Redis is back.
    const run = await timed('/v1/provisioning_runs', {
      method: 'POST',
      headers: { ...bearer(sa.access_token), ...json },
      body: JSON.stringify({ include: ['users'], callback_url: `${receiver.url}/after-outage` }),
    });
    expect(run.status, run.text).toBe(202);
    expect(run.ms).toBeLessThan(API_ENQUEUE_TIMEOUT_MS + 1_500);
    const [other] = (await usableUsers(t, 'google', 2)).slice(1);
    const authz = await timed('/v1/service_account_authorizations', {
      method: 'POST',
      headers: { ...bearer(sa.access_token), ...json },
      body: JSON.stringify({
        email: other?.email,
        callback_url: `${receiver.url}/authz-after-outage`,
        scope: 'read_write',
        state: 'outage',
      }),
    });
    expect(authz.status, authz.text).toBe(202);
    expect(authz.ms).toBeLessThan(API_ENQUEUE_TIMEOUT_MS + 1_500);

    // "Check now" needs Redis (its rate window) and the queue: 503, Retry-After, at once.
    const check = await timed(`/relink/${profileId}/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(check.status, check.text).toBe(503);
    expect(Number(check.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(check.ms).toBeLessThan(2_500);
    const page = await timed(`/relink/${profileId}`);
    expect(page.status).toBe(200);
    expect(page.ms).toBeLessThan(2_500);

    // Redis back, empty: the reconciler queues what was recorded meanwhile.
    await redis?.start();
    const ok = await timed('/readyz');
    expect([200, 503]).toContain(ok.status);
    const runId = (JSON.parse(run.text) as { provisioning_run: { id: string } }).provisioning_run.id;
    const sweeper = setInterval(() => {
      void reconcile(t.runtime.app, { staleRunMs: 0, staleAuthorizationMs: 0, enqueueGraceMs: 0 }).catch(
        () => {},
      );
    }, 1_000);
    try {
      const final = await waitForRun(t, sa.access_token, runId, 60_000);
      expect(final.status).toMatch(/^completed/);
      await receiver.waitFor((r) => r.path === '/authz-after-outage', 30_000);
    } finally {
      clearInterval(sweeper);
    }
    expect((await timed('/readyz')).status).toBe(200);
  }, 120_000);
});
