import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QuotaOverrides } from '../../src/providers/quotas.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { runJsonChild } from '../helpers/json-child.js';
import { TEST_REDIS_TARGET, useRedisPrefix } from '../helpers/redis.js';
import { googleCredentials, microsoftCredentials, sandboxUrls } from './helpers.js';
import type { QuotaWorkerInput, QuotaWorkerOutput } from './quota-worker.js';

const prefix = useRedisPrefix();
const WORKER = fileURLToPath(new URL('./quota-worker.ts', import.meta.url));

// Small quotas, the same on both sides (the sandbox enforces them with sliding windows and counts
// every refusal as a violation; the workers are told the same numbers as per-Service-Account
// overrides), so the limits bind within seconds.
const SANDBOX_QUOTAS = {
  directoryPerMinute: 40,
  calendarPerUserPerMinute: 30,
  calendarPerProjectPerMinute: 60,
  graphPerMailboxPer10Min: 10_000,
  graphConcurrentPerMailbox: 4,
};
const OVERRIDES: QuotaOverrides = {
  'google.directory': { points: 40, durationSecs: 60 },
  'google.calendar.user': { points: 30, durationSecs: 60 },
  'google.calendar.project': { points: 60, durationSecs: 60 },
  'microsoft.mailbox': { points: 10_000, durationSecs: 600 },
  'microsoft.mailbox.concurrent': { points: 4, durationSecs: 30 },
};
const DURATION_MS = 9000;

let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({
    seed: 'quota-workers',
    google: { users: 20, rooms: 2 },
    microsoft: { users: 20, rooms: 2 },
    quotas: SANDBOX_QUOTAS,
    // Latency makes Microsoft calls on one mailbox overlap, so the concurrency limit matters.
    faults: { latencyMs: 60, jitterMs: 40 },
  });
});

afterAll(async () => {
  await sb?.close();
});

function runWorker(input: QuotaWorkerInput): Promise<QuotaWorkerOutput> {
  return runJsonChild<QuotaWorkerInput, QuotaWorkerOutput>(WORKER, 'QUOTA_WORKER_INPUT', input);
}

describe('shared quotas across worker processes', () => {
  it('two processes hammering one Service Account cause zero quota violations', async () => {
    const domain = sb.google?.domain as string;
    const googleUsers = (await sb.control.listUsers('google', { limit: 20 })).users
      .filter((u) => !u.suspended && u.mailbox)
      .slice(1, 4)
      .map((u) => u.email);
    const mailbox = (await sb.control.listUsers('microsoft', { limit: 20 })).users.find(
      (u) => !u.suspended && u.mailbox && !u.accessDenied && !u.shared,
    );
    expect(googleUsers).toHaveLength(3);
    expect(domain).toBeTruthy();
    await sb.control.resetCounters();
    const input: QuotaWorkerInput = {
      urls: sandboxUrls(sb),
      redis: TEST_REDIS_TARGET,
      keyPrefix: `${prefix}:quota`,
      serviceAccountId: 'ser_hammered',
      overrides: OVERRIDES,
      google: googleCredentials(sb),
      microsoft: microsoftCredentials(sb),
      googleUsers,
      microsoftMailbox: { email: mailbox?.email as string, providerId: mailbox?.id as string },
      durationMs: DURATION_MS,
      parallel: 12,
      maxWaitMs: 4000,
    };
    const results = await Promise.all([runWorker(input), runWorker(input)]);
    const counters = await sb.control.counters();

    const sum = (pick: (r: QuotaWorkerOutput) => Record<string, number>, key: string) =>
      results.reduce((n, r) => n + (pick(r)[key] ?? 0), 0);
    const summary = {
      ok: {
        googleUsers: sum((r) => r.ok, 'google.users'),
        googleCalendars: sum((r) => r.ok, 'google.calendars'),
        microsoftCalendars: sum((r) => r.ok, 'microsoft.calendars'),
      },
      deferred: results.map((r) => r.failed),
      limiterWaits: results.map((r) => ({
        waited: r.limiter.waited,
        waitedMs: r.limiter.waitedMs,
        refused: r.limiter.refused,
      })),
      sandbox: {
        quotaViolations: counters.quotaViolations,
        peakPerMailbox: counters.concurrency.peakPerMailbox,
        tokens: counters.tokensIssued,
      },
    };
    // The figures for the report.
    process.stdout.write(`quota test: ${JSON.stringify(summary)}\n`);

    expect(counters.quotaViolations.total).toBe(0);
    expect(counters.concurrency.peakPerMailbox).toBeLessThanOrEqual(4);
    // The limits did bind: both processes waited, and work still got done.
    for (const r of results) {
      expect(r.limiter.waited).toBeGreaterThan(0);
      for (const key of Object.keys(r.failed)) {
        expect(key).toMatch(/:rate_limited$/);
      }
    }
    expect(summary.ok.googleUsers).toBeGreaterThan(3);
    expect(summary.ok.googleCalendars).toBeGreaterThan(5);
    expect(summary.ok.microsoftCalendars).toBeGreaterThan(20);
    // Within the quotas (the 9 s run is inside the first sandbox minute or straddles two).
    expect(summary.ok.googleUsers).toBeLessThanOrEqual(40);
    // One token per subject per process, not one per call.
    for (const [subject, n] of Object.entries(counters.tokensIssued.googleBySubject)) {
      expect(n, subject).toBeLessThanOrEqual(2);
    }
    expect(counters.tokensIssued.microsoft).toBe(2);
  }, 60_000);
});
