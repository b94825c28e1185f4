import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { writeResult } from '../../../bench/common.js';
import { expectRunConsistent } from '../../helpers/invariants.js';
import { type Deployment, type DeploymentOptions, deploy, type RunJson, type Tenant } from './deployment.js';

// `npm run test:chaos`: each scenario starts a whole deployment as separate processes (ec sandbox,
// ec api, several ec worker, ec scheduler) against a Redis of its own (and, to restart it, a Postgres
// of its own), runs a fault-free baseline run over the sandbox's Google org, then the same run on a
// second Service Account while one failure is injected. After each: the counts equal the baseline's
// (every Account exactly once, every failure with its reason), nothing is left pending or active,
// every callback arrived at least once, provider calls stay within 1.3× of the baseline's, no quota
// was exceeded and no process died on its own. Figures: bench/results/chaos-<date>.json.

type Figures = Record<string, unknown>;
const results: Figures[] = [];
// `CHAOS_LONG=1 npm run test:chaos`: the soak variant (a larger org; each scenario may take far longer).
const LONG = process.env.CHAOS_LONG === '1';
const USERS = LONG ? 5_000 : 1_200;

afterAll(() => {
  if (results.length === 0) {
    return;
  }
  // A partial run (`-t <scenario>`) replaces its scenarios in the day's file and keeps the others.
  const date = new Date().toISOString().slice(0, 10);
  const file = new URL(`../../../bench/results/chaos-${date}.json`, import.meta.url);
  const kept = existsSync(file)
    ? ((JSON.parse(readFileSync(file, 'utf8')) as { long?: boolean; scenarios?: Figures[] }).scenarios ?? [])
    : [];
  const names = new Set(results.map((r) => r.scenario));
  const scenarios = [...kept.filter((k) => !names.has(k.scenario)), ...results];
  writeResult(`chaos-${date}.json`, { date, long: LONG, users: USERS, scenarios });
});

const countsOf = (r: RunJson) => ({
  listed: r.counts.listed,
  provisioned: r.counts.provisioned,
  skipped: r.counts.skipped,
  failed: r.counts.failed,
  failuresByReason: Object.fromEntries(r.failures_by_reason.map((f) => [f.error_key, f.count])),
});

async function waitDelivered(d: Deployment, path: string, n: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (d.receiver.delivered(path).size < n) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${d.receiver.delivered(path).size} of ${n} callbacks delivered on ${path}`);
    }
    await sleep(250);
  }
  return Date.now() - started;
}

/** Resolves once the run has made `share` of its listed items final (or is final itself). */
async function progressed(d: Deployment, t: Tenant, id: string, share: number): Promise<RunJson> {
  for (;;) {
    const run = await d.getRun(t, id);
    if (run) {
      const done = run.counts.provisioned + run.counts.skipped + run.counts.failed;
      if (
        run.status.startsWith('completed') ||
        (run.counts.listed > 0 && done >= share * run.counts.listed)
      ) {
        return run;
      }
    }
    await sleep(100);
  }
}

type Injection = { injected: string; endedAt: number; extra?: Figures };

async function scenario(
  name: string,
  opts: DeploymentOptions,
  inject: (d: Deployment, t: Tenant, runId: string) => Promise<Injection>,
  after?: (d: Deployment, t: Tenant, run: RunJson) => Promise<{ run: RunJson; extra?: Figures }>,
): Promise<void> {
  const d = await deploy(opts);
  try {
    const base = await d.tenant('baseline');
    const before = await d.providerCalls();
    const baseStarted = Date.now();
    const baseRun = await d.waitForRun(base, (await d.startRun(base, '/baseline')).id, 300_000);
    const baseMs = Date.now() - baseStarted;
    expect(baseRun.status).toMatch(/^completed/);
    expect(baseRun.counts.listed).toBe(opts.users);
    const baseFacts = await expectRunConsistent(d.database.db, baseRun.id, base.serviceAccountId);
    await waitDelivered(d, '/baseline', baseFacts.callbacks, 120_000);
    const mid = await d.providerCalls();
    const minimum = mid.calls - before.calls;

    const t = await d.tenant(name);
    const start = await d.providerCalls();
    const started = Date.now();
    const run = await d.startRun(t, `/${name}`);
    const injection = await inject(d, t, run.id);
    let final = await d.waitForRun(t, run.id, 600_000);
    const finalAt = Date.now();
    let extra: Figures = { ...injection.extra };
    if (after) {
      const next = await after(d, t, final);
      final = next.run;
      extra = { ...extra, ...next.extra };
    }
    const facts = await expectRunConsistent(d.database.db, run.id, t.serviceAccountId);
    const deliveredMs = await waitDelivered(d, `/${name}`, facts.callbacks, 600_000);
    const end = await d.providerCalls();
    const calls = end.calls - start.calls;
    const seen = d.receiver.seen(`/${name}`);
    // Every secret issued or received, looked for in everything every process wrote.
    const logs = d.logText();
    const secrets = [...d.secrets(), ...d.receiver.codes()];
    const leaked = secrets.filter((s) => logs.includes(s));
    const figures: Figures = {
      scenario: name,
      injected: injection.injected,
      processes: { workers: opts.workers, users: opts.users, ownPostgres: !!opts.ownPostgres },
      expected: countsOf(baseRun),
      found: countsOf(final),
      duplicates: {
        accounts: 0, // expectRunConsistent: one Account per (Service Account, email)
        runItems: 0,
        callbacksRepeated: seen.ok - d.receiver.delivered(`/${name}`).size,
      },
      callbacks: {
        stored: facts.callbacks,
        delivered: d.receiver.delivered(`/${name}`).size,
        attemptsSeen: seen,
      },
      providerCalls: {
        faultFreeMinimum: minimum,
        found: calls,
        ratio: Math.round((calls / minimum) * 100) / 100,
      },
      tokenGrants: { baseline: mid.tokens - before.tokens, found: end.tokens - start.tokens },
      quotaViolations: end.quotaViolations,
      baselineMs: baseMs,
      runMs: finalAt - started,
      recoverMs: Math.max(0, finalAt - injection.endedAt),
      lastCallbackAfterFinalMs: deliveredMs,
      activeRunsLeft: await d.activeRuns(),
      logScan: { bytes: logs.length, secretsLookedFor: secrets.length, found: leaked.length },
      unexpectedExits: d.unexpectedExits().length,
      ...extra,
    };
    results.push(figures);
    expect(d.unexpectedExits()).toEqual([]);
    expect(final.status).toMatch(/^completed/);
    expect(figures.found).toEqual(figures.expected);
    expect(facts.items).toBe(baseFacts.items);
    expect(facts.callbacks).toBe(baseFacts.callbacks);
    expect(d.receiver.delivered(`/${name}`).size).toBe(facts.callbacks);
    expect(figures.activeRunsLeft).toBe(0);
    expect(end.quotaViolations).toBe(0);
    expect(secrets.length).toBeGreaterThan(facts.callbacks);
    expect(leaked).toEqual([]);
    expect(calls).toBeLessThanOrEqual(Math.ceil(minimum * 1.3));
  } finally {
    await d.close();
  }
}

const timeout = LONG ? 3_600_000 : 900_000;

describe.sequential('reliability with real processes', () => {
  it(
    'a random worker SIGKILLed every few seconds, 5 times, each restarted',
    async () => {
      await scenario('worker-kill', { users: USERS, workers: 3, latencyMs: 40 }, async (d, t, runId) => {
        await progressed(d, t, runId, 0.05);
        const killed: number[] = [];
        for (let k = 0; k < 5; k++) {
          const i = randomInt(3);
          await d.killWorker(i);
          killed.push(i);
          await sleep(300);
          d.startWorker(i);
          await sleep(2_500);
        }
        return {
          injected: `SIGKILL of workers ${killed.join(', ')} every ~3 s, each restarted`,
          endedAt: Date.now(),
        };
      });
    },
    timeout,
  );

  it(
    'Redis stopped for 30 s mid-run, then restarted empty',
    async () => {
      await scenario('redis-outage', { users: USERS, workers: 2, latencyMs: 40 }, async (d, t, runId) => {
        await progressed(d, t, runId, 0.2);
        await d.redis.stop();
        const probes: Record<string, { status: number; ms: number }[]> = { status: [], readyz: [] };
        const downAt = Date.now();
        while (Date.now() - downAt < 30_000) {
          let s = performance.now();
          const r = await d
            .api('GET', `/v1/provisioning_runs/${runId}`, t.saToken)
            .catch(() => ({ status: 0 }));
          probes.status?.push({ status: r.status, ms: Math.round(performance.now() - s) });
          s = performance.now();
          const ready = await fetch(`${d.apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) }).then(
            (x) => x.status,
            () => 0,
          );
          probes.readyz?.push({ status: ready, ms: Math.round(performance.now() - s) });
          await sleep(2_000);
        }
        await d.redis.start();
        const worst = (k: string) => Math.max(...(probes[k] ?? []).map((p) => p.ms));
        expect(probes.status?.every((p) => p.status === 200)).toBe(true);
        expect(probes.readyz?.every((p) => p.status === 503)).toBe(true);
        expect(worst('readyz')).toBeLessThan(2_500);
        expect(worst('status')).toBeLessThan(2_500);
        return {
          injected: 'Redis SIGKILLed for 30 s after 20 % of the run, restarted empty (no persistence)',
          endedAt: Date.now(),
          extra: {
            whileDown: {
              runStatus: { answered200: probes.status?.length, worstMs: worst('status') },
              readyz: { answered503: probes.readyz?.length, worstMs: worst('readyz') },
            },
          },
        };
      });
    },
    timeout,
  );

  it(
    'Postgres restarted mid-run',
    async () => {
      await scenario(
        'postgres-restart',
        { users: USERS, workers: 2, latencyMs: 40, ownPostgres: true },
        async (d, t, runId) => {
          await progressed(d, t, runId, 0.2);
          const s = Date.now();
          await d.postgres?.restart();
          return {
            injected: 'pg_ctl restart -m fast (every connection cut) after 20 % of the run',
            endedAt: Date.now(),
            extra: { restartMs: Date.now() - s },
          };
        },
      );
    },
    timeout,
  );

  it(
    'the callback receiver down, then 500s, then trickling a byte a second, then back',
    async () => {
      await scenario('receiver-faults', { users: USERS, workers: 2, latencyMs: 20 }, async (d) => {
        const path = '/receiver-faults';
        // Each phase lasts until enough attempts met it (new callbacks, then the 1-minute retries).
        const until = async (what: () => boolean, timeoutMs: number) => {
          const end = Date.now() + timeoutMs;
          while (!what() && Date.now() < end) {
            await sleep(100);
          }
        };
        await d.receiver.setMode('down');
        await sleep(3_000);
        await d.receiver.setMode('500');
        await until(() => d.receiver.seen(path)['500'] >= 50, 150_000);
        await d.receiver.setMode('trickle');
        await until(() => d.receiver.seen(path).trickle >= 20, 150_000);
        await d.receiver.setMode('ok');
        const seen = d.receiver.seen(path);
        expect(seen['500']).toBeGreaterThan(0);
        expect(seen.trickle).toBeGreaterThan(0);
        return {
          injected:
            'receiver: connection refused for 3 s, then HTTP 500 until 50 attempts met it, then answers trickling 1 byte/s until 20 attempts met them, then 200',
          endedAt: Date.now(),
          extra: { attemptsByPhase: seen },
        };
      });
    },
    timeout,
  );

  it(
    'sandbox faults (10 % 500, 5 % 429, 1 % timeouts, 200 ms jitter) and delegation revoked mid-run',
    async () => {
      await scenario(
        'provider-faults',
        { users: USERS, workers: 3, latencyMs: 20 },
        async (d, t, runId) => {
          await d.sandbox.setFaults({
            rate500: 0.1,
            rate429: 0.05,
            retryAfterSecs: 1,
            rateTimeout: 0.01,
            timeoutMs: 5_000,
            jitterMs: 200,
          });
          await progressed(d, t, runId, 0.3);
          await d.sandbox.setDelegation({ granted: false });
          await sleep(5_000);
          await d.sandbox.setDelegation({ granted: true });
          return {
            injected:
              '10 % 500, 5 % 429 (Retry-After 1 s), 1 % held 5 s then dropped, 0–200 ms jitter; domain-wide delegation revoked for 5 s after 30 % of the run',
            endedAt: Date.now(),
          };
        },
        async (d, t, run) => {
          await d.sandbox.setFaults({ rate500: 0, rate429: 0, rateTimeout: 0, jitterMs: 0 });
          const revoked =
            run.failures_by_reason.find((f) => f.error_key === 'delegation_not_granted')?.count ?? 0;
          if (revoked === 0) {
            return { run, extra: { failedWhileRevoked: 0 } };
          }
          // What an operator does once delegation is back: retry the failed items.
          const r = await d.api('POST', `/v1/provisioning_runs/${run.id}/retry`, t.saToken);
          expect(r.status).toBe(202);
          return {
            run: await d.waitForRun(t, run.id, 300_000),
            extra: { failedWhileRevoked: revoked, retried: true },
          };
        },
      );
    },
    timeout,
  );
});
