import { GraphError } from '@microsoft/microsoft-graph-client';
import { GaxiosError } from 'gaxios';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type Sandbox, type SandboxUser, startSandbox } from '../../src/sandbox/index.js';
import {
  fetchGraphToken,
  googleAdmin,
  googleCalendar,
  googleJwt,
  graphClient,
  graphToken,
  rejection,
  SCOPES,
  sbGoogle,
} from './sdk.js';

let sb: Sandbox;
let gUsers: SandboxUser[];
let mUsers: SandboxUser[];
const NO_FAULTS = {
  rate429: 0,
  rate500: 0,
  rate503: 0,
  rateTimeout: 0,
  latencyMs: 0,
  jitterMs: 0,
  tokenEndpoints: true,
};

beforeAll(async () => {
  sb = await startSandbox({
    seed: 3,
    google: { users: 40, rooms: 5 },
    microsoft: { users: 40, rooms: 5 },
    faults: { retryAfterSecs: 0 },
    quotas: {
      directoryPerMinute: 5,
      calendarPerUserPerMinute: 3,
      graphPerMailboxPer10Min: 4,
      graphConcurrentPerMailbox: 2,
    },
  });
  gUsers = (await sb.control.listUsers('google', { limit: 40 })).users;
  mUsers = (await sb.control.listUsers('microsoft', { limit: 40 })).users;
});
afterAll(() => sb.close());
afterEach(async () => {
  await sb.control.setFaults({ ...NO_FAULTS, quotas: true });
});

const okGoogle = () => gUsers.filter((u) => u.mailbox && !u.suspended);
const okMailboxes = () => mUsers.filter((u) => u.mailbox && !u.accessDenied);
const reason = (err: unknown) =>
  ((err as GaxiosError).response?.data as { error?: { errors?: { reason?: string }[] } })?.error?.errors?.[0]
    ?.reason;

describe('documented quotas', () => {
  test('Directory queries per minute: then 429 rateLimitExceeded with Retry-After, counted as a violation', async () => {
    await sb.control.resetCounters();
    const dir = googleAdmin(sb, googleJwt(sb, sbGoogle(sb).adminEmail, [SCOPES.directoryUsers]));
    for (let k = 0; k < 5; k++) {
      await dir.users.list({ customer: 'my_customer', maxResults: 1 }, { retry: false });
    }
    const err = await rejection(dir.users.list({ customer: 'my_customer', maxResults: 1 }, { retry: false }));
    expect(err).toBeInstanceOf(GaxiosError);
    expect([(err as GaxiosError).status, reason(err)]).toEqual([429, 'rateLimitExceeded']);
    expect(Number((err as GaxiosError).response?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const counters = await sb.control.counters();
    expect(counters.quotaViolations.byQuota['google.directory']).toBe(1);
    expect(counters.calls['GET /admin/directory/v1/users 429']).toBe(1);

    // Google's documented status for the Directory quota is 403 userRateLimitExceeded: switchable.
    await sb.control.setFaults({ quotas: { googleQuotaStatus: 403 } });
    const e403 = await rejection(
      dir.users.list({ customer: 'my_customer', maxResults: 1 }, { retry: false }),
    );
    expect([(e403 as GaxiosError).status, reason(e403)]).toEqual([403, 'userRateLimitExceeded']);
    await sb.control.setFaults({ quotas: { googleQuotaStatus: 429 } });

    await sb.control.setFaults({ quotas: false });
    await dir.users.list({ customer: 'my_customer', maxResults: 1 }, { retry: false });
  });

  test('Calendar per user per minute: one user is throttled, another is not', async () => {
    const [a, b] = okGoogle();
    const calA = googleCalendar(sb, googleJwt(sb, a?.email, [SCOPES.calendar]));
    for (let k = 0; k < 3; k++) {
      await calA.calendars.get({ calendarId: 'primary' }, { retry: false });
    }
    const err = await rejection(calA.calendars.get({ calendarId: 'primary' }, { retry: false }));
    expect([(err as GaxiosError).status, reason(err)]).toEqual([429, 'userRateLimitExceeded']);
    const calB = googleCalendar(sb, googleJwt(sb, b?.email, [SCOPES.calendar]));
    expect((await calB.calendars.get({ calendarId: 'primary' }, { retry: false })).status).toBe(200);
    expect(
      (await sb.control.counters()).quotaViolations.byQuota['google.calendar.user'],
    ).toBeGreaterThanOrEqual(1);
  });

  test('Graph requests per mailbox per 10 minutes: then 429 with Retry-After', async () => {
    const box = okMailboxes()[0]?.email ?? '';
    const client = graphClient(sb, () => graphToken(sb));
    for (let k = 0; k < 4; k++) {
      await client.api(`/users/${box}/calendar`).get();
    }
    const err = await rejection(client.api(`/users/${box}/calendar`).get());
    expect(err).toBeInstanceOf(GraphError);
    expect([(err as GraphError).statusCode, (err as GraphError).code]).toEqual([429, 'TooManyRequests']);
    expect(Number((err as GraphError).headers?.get('retry-after'))).toBeGreaterThan(0);
    expect((await sb.control.counters()).quotaViolations.byQuota['microsoft.mailbox']).toBe(1);
  });

  test('Graph concurrent requests per mailbox: the excess gets 429 ApplicationThrottled; peak is recorded', async () => {
    await sb.control.resetCounters();
    await sb.control.setFaults({ latencyMs: 150 });
    const box = okMailboxes()[1]?.email ?? '';
    const token = await graphToken(sb);
    const client = graphClient(sb, async () => token);
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => client.api(`/users/${box}/calendar`).get()),
    );
    const refused = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason as GraphError);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(refused.map((e) => [e.statusCode, e.code])).toEqual([
      [429, 'ApplicationThrottled'],
      [429, 'ApplicationThrottled'],
    ]);
    const counters = await sb.control.counters();
    expect(counters.quotaViolations.byQuota['microsoft.mailboxConcurrency']).toBe(2);
    // Refused requests leave at once, so the peak seen is the limit plus at least one refused request.
    expect(counters.concurrency.byMailbox[box.toLowerCase()]).toBeGreaterThanOrEqual(3);
    expect(counters.concurrency.peakPerMailbox).toBeGreaterThanOrEqual(3);
  });
});

describe('injected faults', () => {
  test('rate500 = 1: Google backendError 500, Graph generalException 500, token endpoints 500', async () => {
    await sb.control.setFaults({ quotas: false });
    const token = await graphToken(sb);
    const dir = googleAdmin(sb, googleJwt(sb, sbGoogle(sb).adminEmail, [SCOPES.directoryUsers]));
    await dir.users.list({ customer: 'my_customer', maxResults: 1 }, { retry: false }); // token first
    await sb.control.setFaults({ rate500: 1, quotas: false });
    const g = await rejection(dir.users.list({ customer: 'my_customer', maxResults: 1 }, { retry: false }));
    expect([(g as GaxiosError).status, reason(g)]).toEqual([500, 'backendError']);
    const m = await rejection(
      graphClient(sb, async () => token)
        .api('/users')
        .get(),
    );
    expect([(m as GraphError).statusCode, (m as GraphError).code]).toEqual([500, 'generalException']);
    const t = await fetchGraphToken(sb);
    expect([t.status, t.body.error]).toEqual([500, 'server_error']);
    await sb.control.setFaults({ tokenEndpoints: false });
    expect((await fetchGraphToken(sb)).status).toBe(200);
  });

  test('rate503 = 1: graph-client retries 503 itself (Retry-After 0), then fails with 503', async () => {
    const token = await graphToken(sb);
    await sb.control.setFaults({ rate503: 1, quotas: false });
    await sb.control.resetCounters();
    const err = await rejection(
      graphClient(sb, async () => token, { retries: 2 })
        .api('/users')
        .get(),
    );
    expect([(err as GraphError).statusCode, (err as GraphError).code]).toEqual([503, 'ServiceNotAvailable']);
    const counters = await sb.control.counters();
    expect(counters.calls['GET /v1.0/users 503']).toBe(3);
    expect(counters.faultsInjected['503']).toBe(3);
  });

  test('rate429 = 1: Graph TooManyRequests with Retry-After; Google rateLimitExceeded', async () => {
    const token = await graphToken(sb);
    const cal = googleCalendar(sb, googleJwt(sb, okGoogle()[2]?.email, [SCOPES.calendar]));
    await cal.calendarList.list({}, { retry: false });
    await sb.control.setFaults({ rate429: 1, retryAfterSecs: 0, quotas: false });
    const m = (await rejection(
      graphClient(sb, async () => token)
        .api('/places/microsoft.graph.room')
        .get(),
    )) as GraphError;
    expect([m.statusCode, m.code, m.headers?.get('retry-after')]).toEqual([429, 'TooManyRequests', '0']);
    const g = await rejection(cal.calendarList.list({}, { retry: false }));
    expect([(g as GaxiosError).status, reason(g)]).toEqual([429, 'rateLimitExceeded']);
  });

  test('a share of faults: about that share of answers', async () => {
    const token = await graphToken(sb);
    await sb.control.setFaults({ rate500: 0.3, quotas: false });
    const statuses = await Promise.all(
      Array.from(
        { length: 300 },
        async () =>
          (await fetch(`${sb.url}/v1.0/users?$top=1`, { headers: { authorization: `Bearer ${token}` } }))
            .status,
      ),
    );
    const errors = statuses.filter((s) => s === 500).length;
    expect(errors).toBeGreaterThan(50);
    expect(errors).toBeLessThan(130);
    expect(statuses.filter((s) => s !== 500).every((s) => s === 200)).toBe(true);
  });

  test('timeouts: the request is held for timeoutMs, then dropped unanswered', async () => {
    const token = await graphToken(sb);
    await sb.control.setFaults({ rateTimeout: 1, timeoutMs: 300, quotas: false });
    const started = performance.now();
    const err = await rejection(
      fetch(`${sb.url}/v1.0/users`, { headers: { authorization: `Bearer ${token}` } }),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(err).toBeInstanceOf(TypeError); // undici: "fetch failed", the socket closed without an answer
    expect((await sb.control.counters()).faultsInjected.timeout).toBeGreaterThanOrEqual(1);
  });

  test('latency: fixed plus jitter', async () => {
    const token = await graphToken(sb);
    await sb.control.setFaults({ latencyMs: 120, jitterMs: 60, quotas: false });
    const started = performance.now();
    const res = await fetch(`${sb.url}/v1.0/users?$top=1`, { headers: { authorization: `Bearer ${token}` } });
    const elapsed = performance.now() - started;
    expect(res.status).toBe(200);
    expect(elapsed).toBeGreaterThanOrEqual(115);
    expect(elapsed).toBeLessThan(1000);
  });
});
