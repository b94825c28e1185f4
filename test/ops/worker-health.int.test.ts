import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { childEnv, waitForExit } from '../helpers/worker-process.js';

const t = useTestApp({ workers: false });
const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child);
    }
  }
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function start(command: 'worker' | 'scheduler', env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [EC, command], { env: childEnv(t, env), stdio: 'ignore' });
  children.push(child);
  return child;
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

/** Polls `path` until it answers `status` (the process is still starting). */
async function waitFor(port: number, path: string, status: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const r = await get(port, path);
      if (r.status === status) {
        return r;
      }
      last = r;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${path} did not answer ${status}: ${String(last instanceof Error ? last.message : JSON.stringify(last))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(['worker', 'scheduler'] as const)('ec %s with WORKER_HEALTH_PORT', (command) => {
  it('serves /healthz, /readyz (Postgres + Redis) and /metrics, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = start(command, { WORKER_HEALTH_PORT: String(port) });
    expect(JSON.parse((await waitFor(port, '/healthz', 200)).text)).toEqual({ status: 'ok' });
    const ready = JSON.parse((await waitFor(port, '/readyz', 200)).text);
    expect(ready).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# HELP ec_/m);
    expect((await get(port, '/nope')).status).toBe(404);
    child.kill('SIGTERM');
    expect(await waitForExit(child)).toBe(0);
  });
});

describe('ec worker with WORKER_HEALTH_PORT and Redis away', () => {
  it('answers /readyz 503 within the probe timeout while /healthz stays 200', async () => {
    const port = await freePort();
    const child = start('worker', {
      WORKER_HEALTH_PORT: String(port),
      REDIS_URL: 'redis://127.0.0.1:1',
      REDIS_CLUSTER_NODES: '',
    });
    const started = Date.now();
    const notReady = JSON.parse((await waitFor(port, '/readyz', 503)).text);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(notReady.status).toBe('not_ready');
    // Redis is named (or, if the check itself hangs, the probe's own timeout answers).
    const redisCheck = notReady.checks.redis ?? notReady.checks.readiness;
    expect(typeof redisCheck).toBe('string');
    expect(redisCheck).not.toBe('ok');
    // Liveness is not readiness: the process itself still answers.
    expect((await get(port, '/healthz')).status).toBe(200);
    expect(child.exitCode).toBeNull();
  });
});
