import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { reconcile } from '../../src/services/reconcile.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { useReceiver } from '../helpers/receiver.js';
import { flushDeployment } from '../helpers/redis.js';
import { getRun, startRun, waitForRun } from '../helpers/runs.js';

const t = useTestApp({
  sandbox: { google: false, microsoft: { users: 1500, rooms: 20 }, faults: { latencyMs: 3 } },
});
const receiver = useReceiver();

describe('Redis losing everything mid-run', () => {
  it('the reconciler rebuilds the queue work from Postgres: nothing lost, stalled or duplicated', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
    const run = await startRun(t, sa.access_token, { callback_url: `${receiver.url}/flush` });
    for (;;) {
      const now = await getRun(t, sa.access_token, run.id);
      if (now.counts.provisioned > 200) {
        break;
      }
      await sleep(20);
    }
    const deleted = await flushDeployment(t.config.redis.queuePrefix);
    expect(deleted).toBeGreaterThan(0);
    // The scheduler's reconcile sweep, with short thresholds.
    const sweeper = setInterval(() => {
      void reconcile(t.runtime.app, { staleRunMs: 3_000 }).catch(() => {});
    }, 1_000);
    try {
      const final = await waitForRun(t, sa.access_token, run.id, 120_000);
      expect(final.status).toMatch(/^completed/);
      expect(final.counts.pending).toBe(0);
      const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
      expect(facts.items).toBe(final.counts.listed);
      expect(final.counts.listed).toBeGreaterThanOrEqual(1500);
      // Delivery is at least once (a kill between the POST and its bookkeeping repeats it): count emails.
      const emails = await receiver.waitForDistinct(
        facts.callbacks,
        (r) => r.path === '/flush',
        (r) => (r.json as { authorization: { email: string } }).authorization.email,
        120_000,
      );
      expect(emails.size).toBe(facts.callbacks);
    } finally {
      clearInterval(sweeper);
    }
  }, 240_000);
});
