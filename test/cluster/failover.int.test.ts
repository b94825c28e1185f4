import { mkdir, writeFile } from 'node:fs/promises';
import { describe, expect, inject, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { useReceiver } from '../helpers/receiver.js';
import { getRun, startRun, waitForRun } from '../helpers/runs.js';
import { failOverMasterOf } from './redis-cluster.js';

/**
 * `npm run test:cluster` only (its global setup starts the cluster): a provisioning run whose queues'
 * master is failed over mid-run (`CLUSTER FAILOVER` on its replica) still ends with exact counts.
 */
const USERS = Number(process.env.CLUSTER_FAILOVER_USERS ?? 3000);

const t = useTestApp({ sandbox: { google: { users: USERS, rooms: 0 }, microsoft: false } });
const receiver = useReceiver();

describe('a provisioning run on a Redis Cluster', () => {
  it('survives a failover of the master holding its queues, with exact counts', async () => {
    // The cluster is configured and the prefix hash-tagged: every key of the deployment in one slot.
    expect(t.config.redis.cluster?.nodes.length).toBe(6);
    expect(t.config.redis.queuePrefix).toMatch(/^\{ect-[0-9a-f]+\}$/);

    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const started = await startRun(t, sa.access_token, {
      include: ['users'],
      callback_url: `${receiver.url}/failover`,
      scope: 'read_only',
      state: 'failover',
    });

    // Fail over once the run is well under way: listing done, some Accounts made, most still to make.
    let atFailover = await getRun(t, sa.access_token, started.id);
    const deadline = Date.now() + 120_000;
    while (atFailover.counts.provisioned < Math.min(300, USERS / 10)) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
      atFailover = await getRun(t, sa.access_token, started.id);
    }
    const failover = await failOverMasterOf(inject('redisClusterPorts'), `${t.config.redis.queuePrefix}:x`);
    expect(failover.newMaster).not.toBe(failover.oldMaster);

    const run = await waitForRun(t, sa.access_token, started.id, 300_000);
    expect(['completed', 'completed_with_errors']).toContain(run.status);
    // The failover happened mid-run, not after it.
    expect(atFailover.counts.provisioned).toBeLessThan(run.counts.provisioned);
    const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
    expect(facts.items).toBe(USERS);
    expect(run.counts.listed).toBe(USERS);
    expect(run.counts.pending).toBe(0);
    expect(run.counts.provisioned + run.counts.skipped + run.counts.failed).toBe(USERS);
    expect(facts.callbacks).toBe(run.counts.provisioned + run.counts.failed);
    const callbacks = await receiver.waitForCount(facts.callbacks, (r) => r.path === '/failover', 120_000);
    const emails = new Set(
      callbacks.map((c) => (c.json as { authorization: { email: string } }).authorization.email),
    );
    expect(emails.size).toBe(facts.callbacks);

    const report = {
      users: USERS,
      failover,
      provisionedAtFailover: atFailover.counts.provisioned,
      counts: run.counts,
      items: facts.items,
      callbacks: facts.callbacks,
      distinctCallbackEmails: emails.size,
    };
    await mkdir('test/artifacts', { recursive: true });
    await writeFile('test/artifacts/cluster-failover.json', `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`cluster failover run: ${JSON.stringify(report)}\n`);
  }, 360_000);
});
