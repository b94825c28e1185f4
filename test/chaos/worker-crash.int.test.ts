import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { reconcile } from '../../src/services/reconcile.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { useReceiver } from '../helpers/receiver.js';
import { getRun, startRun, waitForRun } from '../helpers/runs.js';
import { spawnWorker, waitForExit } from '../helpers/worker-process.js';

// Workers run as separate processes here, so they can be killed with SIGKILL mid-run.
const t = useTestApp({
  workers: false,
  sandbox: { google: { users: 2500, rooms: 0 }, microsoft: false, faults: { latencyMs: 4, jitterMs: 4 } },
});
const receiver = useReceiver();
const LOCK = { WORKER_LOCK_SECONDS: '2' };

describe('a worker killed with SIGKILL three times during a run', () => {
  it('loses, stalls and duplicates nothing', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const run = await startRun(t, sa.access_token, {
      include: ['users'],
      callback_url: `${receiver.url}/crash`,
      state: 'chaos',
    });

    const progressAtKill: number[] = [];
    for (let kill = 0; kill < 3; kill++) {
      const worker = spawnWorker(t, LOCK);
      const before = await getRun(t, sa.access_token, run.id);
      const target = before.counts.provisioned + before.counts.skipped + before.counts.failed + 150;
      const deadline = Date.now() + 60_000;
      for (;;) {
        const now = await getRun(t, sa.access_token, run.id);
        const done = now.counts.provisioned + now.counts.skipped + now.counts.failed;
        if (done >= target || Date.now() > deadline) {
          progressAtKill.push(done);
          break;
        }
        await sleep(50);
      }
      worker.kill('SIGKILL');
      await waitForExit(worker);
    }
    expect(progressAtKill[2]).toBeLessThan(2500);

    const last = spawnWorker(t, LOCK);
    // What the scheduler's reconcile sweep does every minute, with short thresholds: work lost
    // between a commit and its enqueue (the kill landed there) is queued again from Postgres.
    const sweeper = setInterval(() => {
      void reconcile(t.runtime.app, { staleRunMs: 5_000 }).catch(() => {});
    }, 2_000);
    try {
      const final = await waitForRun(t, sa.access_token, run.id, 180_000);
      expect(final.status).toMatch(/^completed/);
      expect(final.counts.listed).toBe(2500);
      expect(final.counts.pending).toBe(0);
      const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
      expect(facts.items).toBe(2500);
      expect(facts.callbacks).toBe(final.counts.provisioned + final.counts.failed);
      // Delivery is at least once (a kill between the POST and its bookkeeping repeats it): count emails.
      const emails = await receiver.waitForDistinct(
        facts.callbacks,
        (r) => r.path === '/crash',
        (r) => (r.json as { authorization: { email: string } }).authorization.email,
        120_000,
      );
      expect(emails.size).toBe(facts.callbacks);
    } finally {
      clearInterval(sweeper);
      last.kill('SIGTERM');
      await waitForExit(last);
    }
  }, 300_000);
});
