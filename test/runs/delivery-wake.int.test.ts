import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkers, type WorkerSet } from '../../src/jobs/worker.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { type Received, useReceiver } from '../helpers/receiver.js';
import { startRun, waitForRun } from '../helpers/runs.js';

const t = useTestApp({ sandbox: { google: { users: 300, rooms: 0 }, microsoft: false }, workers: false });
const receiver = useReceiver();

/** The pump polls once a minute here: a callback arriving sooner was woken by the batch's commit. */
const POLL_MS = 60_000;
let workers: WorkerSet | undefined;

beforeAll(async () => {
  workers = startWorkers(t.runtime.app, t.runtime.deps.redis(), { deliveries: { pollMs: POLL_MS } });
});
afterAll(async () => {
  await workers?.close();
});

const emailOf = (r: Received) => (r.json as { authorization: { email: string } }).authorization.email;

describe('a provisioning batch wakes its process’s delivery pump', () => {
  it('every callback of a run arrives long before the pump’s next poll', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    // The pump's first claims have found nothing by now: it sleeps until the next poll or a wake.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const path = '/woken';
    const started = Date.now();
    const run = await startRun(t, sa.access_token, {
      include: ['users'],
      callback_url: `${receiver.url}${path}`,
      scope: 'read_only',
      verify: 'directory',
    });
    const final = await waitForRun(t, sa.access_token, run.id, 30_000);
    expect(final.counts.provisioned).toBeGreaterThan(200);
    const emails = await receiver.waitForDistinct(
      final.counts.provisioned,
      (r) => r.path === path,
      emailOf,
      20_000,
    );
    expect(emails.size).toBe(final.counts.provisioned);
    expect(Date.now() - started).toBeLessThan(POLL_MS / 2);
  });
});
