import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../src/jobs/catalog.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { type OwnRedis, ownRedis } from '../helpers/own-redis.js';
import { startRun } from '../helpers/runs.js';
import { childEnv, waitForExit } from '../helpers/worker-process.js';

/**
 * `ec worker` SIGTERMed while it has jobs in flight and its Redis is gone: the jobs can never be
 * recorded as done, so it must not wait for them. Our own Redis: the shared one is never stopped.
 */
let redis: OwnRedis | undefined;
let child: ChildProcess | undefined;
beforeAll(async () => {
  redis = await ownRedis();
  await redis.start();
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await waitForExit(child);
  }
  await redis?.stop();
});

const t = useTestApp({
  workers: false,
  sandbox: { google: { users: 60, rooms: 0 }, microsoft: false },
  env: {
    get REDIS_URL() {
      return redis?.url ?? '';
    },
    REDIS_CLUSTER_NODES: '',
  },
});
const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));

async function activeJobs(): Promise<number> {
  const counts = await Promise.all(QUEUE_NAMES.map((q) => t.runtime.queues.queue(q).getActiveCount()));
  return counts.reduce((a, b) => a + b, 0);
}

describe('ec worker stopping with jobs in flight and Redis away', () => {
  it('closes its BullMQ workers by force and exits 0 well inside its grace period', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    // Every provider call now hangs 30 s: the run's first jobs stay active.
    await t.sandbox.control.setFaults({ latencyMs: 30_000 });
    await startRun(t, sa.access_token, {});

    const lines: Record<string, unknown>[] = [];
    let buffer = '';
    child = spawn(process.execPath, [EC, 'worker'], {
      env: childEnv(t, { LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          lines.push({ msg: line });
        }
      }
    });
    const deadline = Date.now() + 30_000;
    while ((await activeJobs()) === 0) {
      expect(Date.now(), 'a job became active').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }

    await redis?.stop();
    const begun = Date.now();
    child.kill('SIGTERM');
    const code = await waitForExit(child);
    const ms = Date.now() - begun;
    expect(code).toBe(0);
    // The Kubernetes grace period is 45 s; waiting for the hung jobs would take 30 s more.
    expect(ms).toBeLessThan(15_000);
    expect(
      lines.find((l) => l.msg === 'workers closed by force; their active jobs run again later'),
    ).toMatchObject({
      reason: 'redis_away',
    });
    expect(lines.find((l) => l.msg === 'stopped')).toMatchObject({ forced: true });

    // Back for the file's teardown (empty, like a restarted container).
    await t.sandbox.control.setFaults({ latencyMs: 0 });
    await redis?.start();
  }, 90_000);
});
