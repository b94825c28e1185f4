import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type Server } from '../../src/api/server.js';
import { startWorkers, type WorkerSet } from '../../src/jobs/worker.js';
import { createProcessMetrics } from '../../src/metrics/process.js';
import { startMetricsPublisher } from '../../src/metrics/share.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { getRun, startRun } from '../helpers/runs.js';

const ADMIN_TOKEN = 'metrics-admin-token-0123456789';
// Workers are started by the test itself, with the runtime's job observer, once the run is queued.
const t = useTestApp({
  workers: false,
  env: { ADMIN_TOKEN },
  sandbox: { google: { users: 600, rooms: 30 }, microsoft: false },
});
let workers: WorkerSet | undefined;
// A server given the runtime's ProcessMetrics (the shared helper's server does not pass it).
let server: Server | undefined;
let url = '';
beforeAll(async () => {
  server = await buildServer(t.runtime.app, {
    queues: t.runtime.queues,
    metrics: t.runtime.metrics,
    rateLimit: { perSecond: 1_000_000, perMinute: 1_000_000 },
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await workers?.close();
  await server?.close();
});

type Sample = { name: string; labels: Record<string, string>; value: number };

/** Parses Prometheus' text format (enough of it for these checks). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || m[3] === undefined) {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = l[2] as string;
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parse(await res.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

describe('GET /metrics', () => {
  it('reports queue depths, job durations, provider calls, run items and Profiles that move during a run', async () => {
    const before = await scrape();
    expect(value(before, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(before, 'ec_metrics_source_up', { source: 'postgres' })).toBe(1);

    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const run = await startRun(t, sa.access_token, { include: ['users', 'rooms'], verify: 'mailbox' });
    // Registration verified the credential live: provider calls are counted already.
    await new Promise((r) => setTimeout(r, 2_100)); // past the scrape cache of Postgres/Redis figures
    const queued = await scrape();
    expect(value(queued, 'ec_provider_calls_total', { provider: 'google', outcome: 'ok' })).toBeGreaterThan(
      0,
    );
    const waiting = (state: string) => value(queued, 'ec_queue_jobs', { queue: 'provisioning', state });
    expect(waiting('waiting') + waiting('prioritized')).toBeGreaterThanOrEqual(1);
    expect(value(queued, 'ec_runs', { status: 'queued' })).toBe(1);

    workers = startWorkers(t.runtime.app, t.runtime.deps.redis(), {
      observeJob: t.runtime.metrics.observeJob,
    });
    const provisioned: number[] = [];
    const jobs: number[] = [];
    let finalRun = await getRun(t, sa.access_token, run.id);
    const deadline = Date.now() + 90_000;
    while (
      !['completed', 'completed_with_errors', 'failed'].includes(finalRun.status) &&
      Date.now() < deadline
    ) {
      const s = await scrape();
      provisioned.push(value(s, 'ec_run_items', { status: 'provisioned' }));
      jobs.push(value(s, 'ec_job_duration_seconds_count', { name: 'accounts.provision' }));
      await new Promise((r) => setTimeout(r, 700));
      finalRun = await getRun(t, sa.access_token, run.id);
    }
    expect(finalRun.counts.provisioned).toBeGreaterThan(500);
    // Figures moved while the run was going: several distinct, growing values.
    expect(new Set(provisioned).size).toBeGreaterThanOrEqual(2);
    expect(provisioned).toEqual([...provisioned].sort((a, b) => a - b));
    expect(new Set(jobs).size).toBeGreaterThanOrEqual(2);

    await new Promise((r) => setTimeout(r, 2_100)); // past the scrape cache
    const after = await scrape();
    expect(value(after, 'ec_run_items', { status: 'provisioned' })).toBe(finalRun.counts.provisioned);
    expect(value(after, 'ec_run_items', { status: 'skipped' })).toBe(finalRun.counts.skipped);
    expect(value(after, 'ec_run_items', { status: 'pending' })).toBe(0);
    expect(value(after, 'ec_profiles', { state: 'connected' })).toBe(finalRun.counts.provisioned);
    expect(value(after, 'ec_runs', { status: finalRun.status })).toBe(1);
    expect(value(after, 'ec_service_accounts', { provider: 'google', status: 'active' })).toBe(1);
    expect(
      value(after, 'ec_job_duration_seconds_count', { name: 'accounts.provision', outcome: 'completed' }),
    ).toBeGreaterThan(0);
    expect(value(after, 'ec_job_duration_seconds_count', { name: 'directory.list-page' })).toBeGreaterThan(0);
    // users.list, the admin check and one calendar check per mailbox, all answered.
    expect(
      value(after, 'ec_provider_calls_total', { api: 'google.directory', outcome: 'ok' }),
    ).toBeGreaterThan(1);
    expect(
      value(after, 'ec_provider_calls_total', { api: 'google.calendar', outcome: 'ok' }),
    ).toBeGreaterThan(500);
    expect(value(after, 'ec_provider_call_duration_seconds_count')).toBeGreaterThan(500);
    // Callbacks were not asked for: nothing dead, the dead-letter series is still there at 0.
    expect(after.some((s) => s.name === 'ec_deliveries' && s.labels.status === 'dead')).toBe(true);
  });

  it('merges the figures worker processes publish to Redis, each under its process label', async () => {
    const worker = createProcessMetrics();
    worker.observeJob({
      name: 'accounts.provision',
      queue: 'provisioning',
      durationSecs: 0.2,
      outcome: 'completed',
    });
    worker.observeProviderCall({
      provider: 'microsoft',
      api: 'microsoft.mailbox',
      outcome: 'consent_revoked',
      durationMs: 40,
    });
    worker.observeLimiterWait({
      api: 'microsoft.mailbox',
      quota: 'microsoft.mailbox.concurrent',
      waitedMs: 120,
    });
    const publisher = startMetricsPublisher({
      redis: t.runtime.deps.redis(),
      prefix: t.config.redis.queuePrefix,
      registry: worker.registry,
      logger: t.runtime.app.logger,
      processId: 'worker-test-1',
    });
    try {
      await publisher.publish();
      const s = await scrape();
      expect(value(s, 'ec_metrics_worker_processes')).toBe(1);
      expect(
        value(s, 'ec_provider_calls_total', { process: 'worker-test-1', outcome: 'consent_revoked' }),
      ).toBe(1);
      expect(value(s, 'ec_limiter_wait_seconds_count', { process: 'worker-test-1' })).toBe(1);
      expect(value(s, 'ec_job_duration_seconds_count', { process: 'worker-test-1' })).toBe(1);
    } finally {
      await publisher.close();
    }
    expect(value(await scrape(), 'ec_metrics_worker_processes')).toBe(0);
  });

  it('backs every metric the Grafana dashboard queries', async () => {
    const dashboard = readFileSync(new URL('../../deploy/grafana-dashboard.json', import.meta.url), 'utf8');
    const used = new Set(
      [...dashboard.matchAll(/\b((?:ec|process|nodejs)_[a-z0-9_]+)/g)].map((m) =>
        (m[1] as string).replace(/_(bucket|count|sum)$/, ''),
      ),
    );
    const exported = new Set((await scrape()).map((s) => s.name.replace(/_(bucket|count|sum)$/, '')));
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    expect(used.size).toBeGreaterThan(12);
  });
});
