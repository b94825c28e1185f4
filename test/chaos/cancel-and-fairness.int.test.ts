import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { api, getRun, startRun, waitForRun } from '../helpers/runs.js';

const t = useTestApp({
  sandbox: {
    google: { users: 20_000, rooms: 0 },
    microsoft: { users: 200, rooms: 0 },
    faults: { latencyMs: 5 },
  },
});

const accountsOf = async (serviceAccountId: string) =>
  (
    await t.runtime.app.db.execute<{ n: number }>(
      sql`select count(*)::int as n from accounts where service_account_id = ${serviceAccountId}`,
    )
  )[0]?.n ?? 0;

describe('runs side by side', () => {
  it('a 200-item run started with a 20,000-item run finishes first; cancelling stops the big one promptly', async () => {
    const app = await t.createApplication();
    const big = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const small = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
    const bigRun = await startRun(t, big.access_token, { include: ['users'] });
    await sleep(300); // the big run is already under way
    const smallRun = await startRun(t, small.access_token, { include: ['users'] });

    const smallDone = await waitForRun(t, small.access_token, smallRun.id, 120_000);
    expect(smallDone.counts.listed).toBe(200);
    const bigNow = await getRun(t, big.access_token, bigRun.id);
    expect(['listing', 'provisioning']).toContain(bigNow.status);
    expect(bigNow.counts.provisioned + bigNow.counts.skipped + bigNow.counts.failed).toBeLessThan(20_000);

    // Cancel: the run stops, pending items are cancelled, Accounts already created stay.
    const cancel = await api<{ cancelled: number }>(
      t,
      big.access_token,
      'POST',
      `/v1/provisioning_runs/${bigRun.id}/cancel`,
    );
    expect(cancel.status).toBe(202);
    const atCancel = await accountsOf(big.service_account_id);
    const cancelled = await getRun(t, big.access_token, bigRun.id);
    expect(cancelled.status).toBe('cancelled');
    await sleep(2_000);
    expect(await accountsOf(big.service_account_id)).toBe(atCancel);
    expect(atCancel).toBeGreaterThan(0);
    const after = await getRun(t, big.access_token, bigRun.id);
    expect(after.counts).toEqual(cancelled.counts);
    await expectRunConsistent(t.runtime.app.db, bigRun.id, big.service_account_id);
    // A cancelled run cannot be retried.
    expect((await api(t, big.access_token, 'POST', `/v1/provisioning_runs/${bigRun.id}/retry`)).status).toBe(
      409,
    );
  }, 240_000);
});
