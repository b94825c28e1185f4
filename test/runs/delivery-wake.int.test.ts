import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkers, type WorkerSet } from '../../src/jobs/worker.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { directoryRunCalledBack } from '../helpers/runs.js';

const t = useTestApp({ sandbox: { google: { users: 300, rooms: 0 }, microsoft: false }, workers: false });
const receiver = useReceiver();

/** The pump polls once a minute here: a callback arriving sooner was sent by the batch's own process. */
const POLL_MS = 60_000;
let workers: WorkerSet | undefined;

beforeAll(async () => {
  workers = startWorkers(t.runtime.app, t.runtime.deps.redis(), { deliveries: { pollMs: POLL_MS } });
});
afterAll(async () => {
  await workers?.close();
});

describe('a provisioning batch’s callbacks leave with its commit, whatever the pump’s poll', () => {
  it('every callback of a run arrives long before the pump’s next poll', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    // The pump's first claims have found nothing by now: it sleeps until its next poll.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    const { run, emails } = await directoryRunCalledBack(t, receiver, sa.access_token, '/woken');
    expect(run.counts.provisioned).toBeGreaterThan(200);
    expect(emails.size).toBe(run.counts.provisioned);
    expect(Date.now() - started).toBeLessThan(POLL_MS / 2);
  });
});
