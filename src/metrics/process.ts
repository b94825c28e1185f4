import { Counter, Histogram, Registry } from 'prom-client';
import { API_QUOTAS } from '../providers/quotas.js';

/**
 * What this process did, counted as it happens: jobs run (duration by job name and outcome),
 * provider calls (by provider, API and outcome) and waits on the shared provider limiter. One
 * registry per process (never prom-client's global one), so tests can build several.
 *
 * In a split deployment the workers make the jobs and the provider calls while the API serves
 * `/metrics`; each `ec worker` therefore publishes this registry to Redis (share.ts) and the API
 * merges the fresh snapshots at scrape time.
 */

/** How a job attempt ended: `error` is retried by the queue, `failed` is final, `delayed` was rate limited. */
export type JobOutcome = 'completed' | 'error' | 'failed' | 'delayed';

export type JobObservation = { name: string; queue: string; durationSecs: number; outcome: JobOutcome };

/** One request to a provider: `outcome` is `ok` or the provider reason code (user_suspended, rate_limited, …). */
export type ProviderCallObservation = {
  provider: string;
  api: string;
  outcome: string;
  durationMs: number;
};

export type LimiterWaitObservation = { api: string; quota: string; waitedMs: number };

export type ProcessMetrics = {
  registry: Registry;
  observeJob: (o: JobObservation) => void;
  observeProviderCall: (o: ProviderCallObservation) => void;
  observeLimiterWait: (o: LimiterWaitObservation) => void;
};

export function createProcessMetrics(): ProcessMetrics {
  const registry = new Registry();
  const jobDuration = new Histogram({
    name: 'ec_job_duration_seconds',
    help: 'Time spent running a job attempt, by job name, queue and outcome',
    labelNames: ['name', 'queue', 'outcome'],
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const providerCalls = new Counter({
    name: 'ec_provider_calls_total',
    help: 'Requests made to Google and Microsoft, by provider, API and outcome (ok or a reason code)',
    labelNames: ['provider', 'api', 'outcome'],
    registers: [registry],
  });
  const providerDuration = new Histogram({
    name: 'ec_provider_call_duration_seconds',
    help: 'Duration of requests to Google and Microsoft, by provider and API',
    labelNames: ['provider', 'api'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const limiterWait = new Histogram({
    name: 'ec_limiter_wait_seconds',
    help: 'Time a provider call waited for a permit of the shared quota limiter, by API and quota',
    labelNames: ['api', 'quota'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers: [registry],
  });
  // Every API's quotas at zero from the start: a process that never waited still exports the series
  // (the dashboard's queries and alerts see 0, not "no data").
  for (const [api, quotas] of Object.entries(API_QUOTAS)) {
    for (const { quota } of quotas) {
      limiterWait.zero({ api, quota });
    }
  }
  limiterWait.zero({ api: 'microsoft.mailbox', quota: 'microsoft.mailbox.concurrent' });
  return {
    registry,
    observeJob: (o) =>
      jobDuration.observe({ name: o.name, queue: o.queue, outcome: o.outcome }, Math.max(0, o.durationSecs)),
    observeProviderCall: (o) => {
      providerCalls.inc({ provider: o.provider, api: o.api, outcome: o.outcome });
      providerDuration.observe({ provider: o.provider, api: o.api }, Math.max(0, o.durationMs) / 1000);
    },
    observeLimiterWait: (o) => limiterWait.observe({ api: o.api, quota: o.quota }, o.waitedMs / 1000),
  };
}
