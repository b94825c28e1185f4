import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { api, startRun, waitForRun } from '../helpers/runs.js';

// 5% of provider answers are 500 and 5% are 429 (Retry-After): the run still ends with exact counts,
// and only real mailbox problems end up failed.
const t = useTestApp({
  sandbox: {
    google: { users: 5000, rooms: 0 },
    microsoft: false,
    faults: { rate500: 0.05, rate429: 0.05, retryAfterSecs: 1 },
  },
});

describe('a 5,000-item run on a faulty provider', () => {
  it('completes with exact counts, and failed items can be retried', async () => {
    const app = await t.createApplication();
    await t.sandbox.control.setFaults({ rate500: 0, rate429: 0 });
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    await t.sandbox.control.setFaults({ rate500: 0.05, rate429: 0.05 });
    const run = await waitForRun(
      t,
      sa.access_token,
      (await startRun(t, sa.access_token, { include: ['users'] })).id,
      300_000,
    );
    expect(run.counts.listed).toBe(5000);
    expect(run.counts.pending).toBe(0);
    expect(run.counts.provisioned + run.counts.skipped + run.counts.failed).toBe(5000);
    const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
    expect(facts.items).toBe(5000);
    // Transient faults were retried, not reported: failures are the mailbox problems the org really has.
    const reasons = run.failures_by_reason.map((r) => r.error_key);
    expect(reasons).not.toContain('rate_limited');
    const counters = (await t.sandbox.control.counters()) as unknown as { faults?: Record<string, number> };
    expect(JSON.stringify(counters)).toMatch(/500|429/);

    // Retry re-queues only the failed ones.
    await t.sandbox.control.setFaults({ rate500: 0, rate429: 0 });
    const retried = await api<{ requeued: number }>(
      t,
      sa.access_token,
      'POST',
      `/v1/provisioning_runs/${run.id}/retry`,
    );
    expect(retried.json.requeued).toBe(run.counts.failed);
    const again = await waitForRun(t, sa.access_token, run.id, 120_000);
    expect(again.counts.listed).toBe(5000);
    expect(again.counts.provisioned).toBeGreaterThanOrEqual(run.counts.provisioned);
    await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
  }, 400_000);
});
