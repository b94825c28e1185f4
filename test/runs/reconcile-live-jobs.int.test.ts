import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { reconcile } from '../../src/services/reconcile.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { getRun, startRun, waitForRun } from '../helpers/runs.js';

// A run whose batches wait out a 3-minute Retry-After makes no progress for longer than the
// reconciler's threshold. The reconciler must see that their jobs still exist and queue nothing:
// a second copy would call the provider again (and, before the outbox, POST the callback twice).
const t = useTestApp({ sandbox: { google: { users: 80, rooms: 0 }, microsoft: false } });

const sumCalls = (calls: Record<string, number>, match: RegExp) =>
  Object.entries(calls)
    .filter(([k]) => match.test(k))
    .reduce((a, [, n]) => a + n, 0);

describe('the reconciler and work that is merely waiting', () => {
  it('queues nothing for batches delayed by a Retry-After, and re-queues them once they are gone', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const provisioning = t.runtime.queues.queue('provisioning');
    // Hold the batches back until the listing is done, then let every mailbox check meet a 429
    // asking for 3 minutes. The provider answers slowly meanwhile, so the queue is paused (once the
    // run has started, on that same queue) long before the listing can queue a batch, however busy
    // the machine is.
    await t.sandbox.control.setFaults({ latencyMs: 1_000 });
    const run = await startRun(t, sa.access_token, { include: ['users'] });
    for (;;) {
      const now = await getRun(t, sa.access_token, run.id);
      if (now.status !== 'queued') {
        break;
      }
      await sleep(10);
    }
    await provisioning.pause();
    for (;;) {
      if ((await getRun(t, sa.access_token, run.id)).status === 'provisioning') {
        break;
      }
      await sleep(20);
    }
    const listed = await getRun(t, sa.access_token, run.id);
    expect(listed.counts.pending).toBeGreaterThan(25);
    const batches = Math.ceil(listed.counts.pending / 25);
    await t.sandbox.control.setFaults({ latencyMs: 0, rate429: 1, retryAfterSecs: 180 });
    await provisioning.resume();
    for (;;) {
      const counts = await provisioning.getJobCounts('delayed', 'wait', 'active', 'prioritized');
      if (counts.delayed === batches && counts.active === 0) {
        break;
      }
      await sleep(50);
    }
    const callsBefore = (await t.sandbox.control.counters()).calls;
    const jobsBefore = await provisioning.getJobCountByTypes('delayed', 'wait', 'prioritized', 'active');

    // Called stale at once (the real threshold is 2 minutes; the wait is 3).
    const report = await reconcile(t.runtime.app, { staleRunMs: 0, enqueueGraceMs: 0 });
    expect(report.runs).toBe(1);
    expect(report.batches).toBe(0);
    expect(report.listPages).toBe(0);
    await sleep(2_000);
    expect(await provisioning.getJobCountByTypes('delayed', 'wait', 'prioritized', 'active')).toBe(
      jobsBefore,
    );
    const callsAfter = (await t.sandbox.control.counters()).calls;
    expect(sumCalls(callsAfter, /calendar/i)).toBe(sumCalls(callsBefore, /calendar/i));

    // The same batches, lost (removed from Redis): now the reconciler queues them again.
    await t.sandbox.control.setFaults({ rate429: 0 });
    for (const job of await provisioning.getJobs(['delayed'])) {
      await job?.remove();
    }
    const again = await reconcile(t.runtime.app, { staleRunMs: 0, enqueueGraceMs: 0 });
    expect(again.batches).toBe(batches);
    const final = await waitForRun(t, sa.access_token, run.id, 60_000);
    expect(final.status).toMatch(/^completed/);
    const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
    expect(facts.items).toBe(final.counts.listed);
  }, 120_000);
});
