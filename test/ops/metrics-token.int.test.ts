import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { useTestApp } from '../helpers/app.js';
import { childEnv, waitForExit } from '../helpers/worker-process.js';

// METRICS_TOKEN (DESIGN §4): the Bearer token for /metrics only; unset, ADMIN_TOKEN stands in.
const ADMIN_TOKEN = 'admin-token-for-metrics-tests-0123';
const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
const t = useTestApp({ workers: false, env: { ADMIN_TOKEN, METRICS_TOKEN } });
const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child);
    }
  }
});

async function get(base: string, path: string, authorization?: string) {
  const res = await fetch(`${base}${path}`, {
    headers: authorization ? { authorization } : {},
    redirect: 'manual',
  });
  return { status: res.status, text: await res.text() };
}

const bearer = (token: string) => `Bearer ${token}`;

describe('METRICS_TOKEN', () => {
  it('falls back to ADMIN_TOKEN when unset, and is refused when too short', () => {
    const KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    expect(loadConfig({ ENCRYPTION_KEYS: KEY, ADMIN_TOKEN }).metricsToken).toBe(ADMIN_TOKEN);
    expect(loadConfig({ ENCRYPTION_KEYS: KEY, ADMIN_TOKEN, METRICS_TOKEN }).metricsToken).toBe(METRICS_TOKEN);
    expect(loadConfig({ ENCRYPTION_KEYS: KEY }).metricsToken).toBeUndefined();
    expect(() => loadConfig({ ENCRYPTION_KEYS: KEY, METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
  });

  it('opens the API /metrics and nothing else; ADMIN_TOKEN no longer opens /metrics', async () => {
    const metrics = await get(t.url, '/metrics', bearer(METRICS_TOKEN));
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# HELP ec_/m);
    expect((await get(t.url, '/metrics')).status).toBe(401);
    const admin = await get(t.url, '/metrics', bearer(ADMIN_TOKEN));
    expect(admin.status).toBe(401);
    expect(admin.text).toContain('METRICS_TOKEN');
    for (const path of ['/admin', '/admin/queues', '/admin/queues/api/queues']) {
      expect((await get(t.url, path, bearer(METRICS_TOKEN))).status, path).toBe(401);
      expect((await get(t.url, path, bearer(ADMIN_TOKEN))).status, path).toBe(200);
    }
  });

  it('unset: ADMIN_TOKEN opens /metrics; neither set: 403', async () => {
    const config = t.runtime.app.config;
    for (const [metricsToken, adminToken, token, status] of [
      [ADMIN_TOKEN, ADMIN_TOKEN, ADMIN_TOKEN, 200],
      [undefined, undefined, ADMIN_TOKEN, 403],
    ] as const) {
      const app = { ...t.runtime.app, config: { ...config, adminToken, metricsToken } };
      const server = await buildServer(app, { queues: t.runtime.queues });
      try {
        const res = await server.inject({ url: '/metrics', headers: { authorization: bearer(token) } });
        expect(res.statusCode).toBe(status);
      } finally {
        await server.close();
      }
    }
  });

  it("guards the worker health port's /metrics; /healthz and /readyz stay open", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const child = spawn(process.execPath, [EC, 'worker'], {
      env: childEnv(t, { WORKER_HEALTH_PORT: String(port), ADMIN_TOKEN, METRICS_TOKEN }),
      stdio: 'ignore',
    });
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await get(base, '/readyz').catch(() => undefined);
      if (ready?.status === 200) {
        break;
      }
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await get(base, '/healthz')).status).toBe(200);
    expect((await get(base, '/metrics')).status).toBe(401);
    expect((await get(base, '/metrics', bearer(ADMIN_TOKEN))).status).toBe(401);
    expect((await get(base, '/metrics', bearer(`${METRICS_TOKEN}x`))).status).toBe(401);
    const ok = await get(base, '/metrics', bearer(METRICS_TOKEN));
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/^# HELP ec_/m);
    child.kill('SIGTERM');
    expect(await waitForExit(child)).toBe(0);
  }, 60_000);
});
