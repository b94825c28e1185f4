import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../src/jobs/catalog.js';
import { SHUTDOWN_EXIT_FORCED } from '../../src/lib/shutdown.js';
import { schedules } from '../../src/scheduler/schedules.js';
import { useTestApp } from '../helpers/app.js';
import { freePort, type OwnRedis, ownRedis } from '../helpers/own-redis.js';
import { childEnv, waitForExit } from '../helpers/worker-process.js';

/**
 * `ec scheduler`, `ec worker` and `ec api` as real processes against a Redis of the test's own, which
 * the test starts late or kills: the scheduler waits for Redis instead of exiting, and every process
 * stops within its grace period on SIGTERM while Redis is away.
 */
const t = useTestApp({ workers: false });
const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));
const children: ChildProcess[] = [];
const redises: OwnRedis[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child);
    }
  }
  for (const r of redises.splice(0)) {
    await r.stop();
  }
});
afterAll(async () => {
  for (const r of redises) {
    await r.stop();
  }
});

type Spawned = { child: ChildProcess; lines: () => Record<string, unknown>[] };

/** Starts `ec <command>` with its JSON log (stdout) collected line by line. */
function start(command: 'worker' | 'scheduler' | 'api', redisUrl: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [EC, command], {
    env: childEnv(t, { REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: '', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let buffer = '';
  const parsed: Record<string, unknown>[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const line of parts) {
      try {
        parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        parsed.push({ msg: line });
      }
    }
  });
  child.stderr?.on('data', () => {});
  return { child, lines: () => parsed } satisfies Spawned;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const logged = (p: Spawned, msg: string) => p.lines().find((l) => l.msg === msg);

/** SIGTERM, then the exit code and how long the process took to exit. */
async function terminate(p: Spawned): Promise<{ code: number | null; ms: number }> {
  const begun = Date.now();
  p.child.kill('SIGTERM');
  const code = await waitForExit(p.child);
  return { code, ms: Date.now() - begun };
}

/** Every job scheduler id in the Redis at `url`, over all queues. */
async function schedulerIds(url: string): Promise<string[]> {
  const connection = new Redis(url, { maxRetriesPerRequest: 1 });
  const queues = QUEUE_NAMES.map(
    (name) => new Queue(name, { connection, prefix: t.config.redis.queuePrefix }),
  );
  try {
    const lists = await Promise.all(queues.map((q) => q.getJobSchedulers(0, -1)));
    return lists.flat().map((s) => s.key);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
  }
}

describe('ec scheduler started while Redis is unreachable', () => {
  it('keeps retrying with a clear log line and registers its schedules once Redis answers', async () => {
    const redis = await ownRedis();
    redises.push(redis);
    const p = start('scheduler', redis.url);
    const waiting = await until('the "waiting for Redis" line', () =>
      logged(p, 'redis unreachable: waiting for it before registering the job schedulers'),
    );
    expect(waiting).toMatchObject({ level: 40, retryInMs: expect.any(Number) });
    // Several seconds without Redis: still alive, still retrying.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(p.child.exitCode).toBeNull();
    expect(logged(p, 'scheduler started')).toBeUndefined();

    await redis.start();
    await until('scheduler started', () => logged(p, 'scheduler started'), 30_000);
    const wanted = schedules(t.config.scheduler).map((s) => s.id);
    expect(wanted).toContain('runs.reconcile');
    expect((await schedulerIds(redis.url)).sort()).toEqual(wanted.sort());
    expect(p.lines().filter((l) => l.msg === 'redis is back: registering the job schedulers')).toHaveLength(
      1,
    );

    const stop = await terminate(p);
    expect(stop.code).toBe(0);
  });

  it('stops at once on SIGTERM while still waiting for Redis', async () => {
    const p = start('scheduler', `redis://127.0.0.1:${await freePort()}`);
    await until('the "waiting for Redis" line', () =>
      logged(p, 'redis unreachable: waiting for it before registering the job schedulers'),
    );
    const stop = await terminate(p);
    expect(stop.code).toBe(0);
    expect(stop.ms).toBeLessThan(5_000);
  });
});

describe.each(['worker', 'api'] as const)('ec %s on SIGTERM while Redis is away', (command) => {
  it('exits within its grace period, code 0 (or the documented forced code)', async () => {
    const redis = await ownRedis();
    redises.push(redis);
    await redis.start();
    const port = await freePort();
    const p = start(command, redis.url, command === 'api' ? { PORT: String(port) } : {});
    await until(`${command} started`, () =>
      logged(p, command === 'api' ? 'api listening' : 'workers started'),
    );
    let trickle: Socket | undefined;
    if (command === 'api') {
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      // A client that sends half a request and then nothing: its connection is never idle, so a
      // plain close would wait for it (up to the 30 s request timeout).
      trickle = connect(port, '127.0.0.1');
      trickle.on('error', () => {});
      await new Promise((r) => trickle?.once('connect', r));
      trickle.write(
        'POST /v1/provisioning_runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
      );
    }
    await redis.stop();
    // Let the clients notice the dead connection (reconnect attempts under way).
    await until('a redis connection error logged', () => logged(p, 'redis connection error'), 15_000);

    const stop = await terminate(p);
    // Well inside the Kubernetes grace periods (worker 45 s, API 30 s).
    expect(stop.ms).toBeLessThan(20_000);
    expect([0, SHUTDOWN_EXIT_FORCED]).toContain(stop.code);
    expect(p.lines().find((l) => l.msg === 'stopped')).toMatchObject({ forced: expect.any(Boolean) });
    if (trickle) {
      expect(logged(p, 'open HTTP connections cut at shutdown')).toBeDefined();
      trickle.destroy();
    }
  });
});
