import { describe, expect, it } from 'vitest';
import { provisioningConcurrency } from '../../src/jobs/worker.js';
import { PROVISION_BATCH } from '../../src/lib/provisioning.js';
import { checkGate } from '../../src/services/provisioning-pipeline.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { startRun, waitForRun } from '../helpers/runs.js';

const IN_FLIGHT = 10;
const USERS = 150;
const t = useTestApp({
  sandbox: { microsoft: { users: USERS, rooms: 0 }, google: false, faults: { latencyMs: 40 } },
  env: { PROVIDER_CALLS_IN_FLIGHT: String(IN_FLIGHT), MICROSOFT_GRAPH_BATCHING: 'always' },
});
const receiver = useReceiver();

describe('mailbox checks in flight (PROVIDER_CALLS_IN_FLIGHT)', () => {
  it('never exceed the setting across the process’s batches, which queue for the places and keep them full', async () => {
    // More batches run than the places fill: the others wait at the gate, not in the queue.
    expect(provisioningConcurrency(IN_FLIGHT) * PROVISION_BATCH).toBeGreaterThan(IN_FLIGHT);
    // At least two batches beyond the ones that fill the places, however few those are.
    for (const n of [1, PROVISION_BATCH, 200, 500]) {
      expect(provisioningConcurrency(n) - Math.ceil(n / PROVISION_BATCH), String(n)).toBeGreaterThanOrEqual(
        2,
      );
    }
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
    const gate = checkGate(t.runtime.app);
    let maxHeld = 0;
    let maxWaiting = 0;
    const sampler = setInterval(() => {
      maxHeld = Math.max(maxHeld, gate.stats.held);
      maxWaiting = Math.max(maxWaiting, gate.stats.waiting);
    }, 2);
    try {
      const started = await startRun(t, sa.access_token, {
        include: ['users'],
        callback_url: `${receiver.url}/gate`,
        scope: 'read_only',
      });
      const run = await waitForRun(t, sa.access_token, started.id);
      expect(['completed', 'completed_with_errors']).toContain(run.status);
      expect(run.counts.provisioned + run.counts.failed + run.counts.skipped).toBe(run.counts.listed);
      expect(run.counts.provisioned).toBeGreaterThan(USERS / 2);
    } finally {
      clearInterval(sampler);
    }
    expect(maxHeld).toBe(IN_FLIGHT);
    expect(maxWaiting).toBeGreaterThan(0);
    expect(gate.stats).toEqual({ held: 0, waiting: 0 });
  }, 120_000);
});
