import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { waitConnected } from './helpers.js';

const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));

// Workers run in this process; the schedulers are real `ec scheduler` processes.
const t = useTestApp({
  sandbox: { google: { users: 10, rooms: 1 }, microsoft: false },
  env: { SWEEP_INTERVAL_SECONDS: '1', PROFILE_CHECK_INTERVAL_SECONDS: '1', RECONNECT_BACKOFF_SECONDS: '1' },
});
const receiver = useReceiver();

type Proc = { child: ChildProcess; output: () => string; exited: Promise<number | null> };
const started: Proc[] = [];

function startScheduler(): Proc {
  let out = '';
  const child = spawn(process.execPath, [EC, 'scheduler'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: t.config.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: t.config.redis.queuePrefix,
      ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      SWEEP_INTERVAL_SECONDS: '1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc = { child, output: () => out, exited };
  started.push(proc);
  return proc;
}

async function waitForOutput(p: Proc, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!p.output().includes(text)) {
    if (Date.now() > deadline) {
      throw new Error(`scheduler did not print "${text}": ${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterAll(async () => {
  for (const p of started) {
    if (p.child.exitCode === null) {
      p.child.kill('SIGKILL');
    }
  }
});

/** Runs of a scheduled job, by the time slot BullMQ gave each iteration (`repeat:<id>:<millis>`). */
async function runSlots(jobName: string): Promise<number[]> {
  const queue = t.runtime.queues.queue('maintenance');
  const jobs = await queue.getJobs(['completed', 'failed', 'active']);
  return jobs
    .filter((j) => j.name === jobName)
    .map((j) => Number(String(j.id).split(':').at(-1)))
    .sort((a, b) => a - b);
}

describe('ec scheduler', () => {
  it('two scheduler processes: sweeps run once per interval and reconnect Profiles; stale schedules removed; SIGTERM stops cleanly', async () => {
    const maintenance = t.runtime.queues.queue('maintenance');
    // A schedule from an older version, no longer listed: the scheduler removes it.
    await maintenance.upsertJobScheduler(
      'retired.sweep',
      { every: 60_000 },
      { name: 'tokens.cleanup', data: {} },
    );

    const a = startScheduler();
    const b = startScheduler();
    await Promise.all([waitForOutput(a, 'scheduler started'), waitForOutput(b, 'scheduler started')]);
    const ids = (await maintenance.getJobSchedulers(0, -1)).map((s) => s.key).sort();
    expect(ids).toEqual([
      'directory.sync-sweep',
      'profiles.check-sweep',
      'profiles.snapshot',
      'records.retention',
      'runs.reconcile',
      'service-accounts.credential-expiry',
      'service-accounts.health-sweep',
      'tokens.cleanup',
    ]);

    const from = Date.now();
    // Nothing but the scheduled sweeps runs checks here: a suspended user is disconnected, then
    // reconnects by itself once unsuspended.
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const [user] = await usableUsers(t, 'google');
    const account = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
    const profileId = (account.linking_profile as { profile_id: string }).profile_id;
    await t.sandbox.control.updateUser('google', user?.email ?? '', { suspended: true });
    const [down] = await waitConnected(t, [profileId], false);
    expect(down?.disconnectReason).toBe('user_suspended');
    await t.sandbox.control.updateUser('google', user?.email ?? '', { suspended: false });
    await waitConnected(t, [profileId], true);
    await new Promise((r) => setTimeout(r, Math.max(0, 4_500 - (Date.now() - from))));
    const elapsedSecs = (Date.now() - from) / 1000;
    for (const name of ['profiles.check-sweep', 'service-accounts.health-sweep']) {
      const slots = await runSlots(name);
      // One run per 1 s slot, never two (each process upserts the same scheduler; BullMQ derives
      // the iteration's job id from the scheduler id and the slot time).
      expect(new Set(slots).size, name).toBe(slots.length);
      for (let i = 1; i < slots.length; i++) {
        expect((slots[i] ?? 0) - (slots[i - 1] ?? 0), `${name} ${slots.join(',')}`).toBeGreaterThanOrEqual(
          1000,
        );
      }
      expect(slots.length, name).toBeGreaterThanOrEqual(Math.floor(elapsedSecs) - 1);
      expect(slots.length, name).toBeLessThanOrEqual(Math.ceil(elapsedSecs) + 2);
    }
    // The hourly cleanup waits for its slot; only one next iteration is queued for it.
    const delayed = (await maintenance.getDelayed()).filter((j) => j.name === 'tokens.cleanup');
    expect(delayed).toHaveLength(1);

    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    // Stopping the processes leaves the schedules in place (another scheduler or a restart keeps them).
    expect(await maintenance.getJobSchedulersCount()).toBe(ids.length);
  });
});
