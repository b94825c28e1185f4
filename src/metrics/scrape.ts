import { AggregatorRegistry, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Db } from '../db/client.js';
import { type MetricsSnapshot, metricsSnapshot } from '../db/queries/metrics.js';
import { isActiveRunStatus } from '../db/schema/provisioning-runs.js';
import { QUEUE_NAMES } from '../jobs/catalog.js';
import type { JobQueues } from '../jobs/queues.js';
import { type RedisClient, redisReader } from '../lib/redis.js';
import type { Logger } from '../logger.js';
import { registerCredentialExpiryGauge } from './credential-expiry.js';
import type { ProcessMetrics } from './process.js';
import { readSharedMetrics } from './share.js';

/** Queue states reported per queue (BullMQ's `getJobCounts` names). */
export const QUEUE_STATES = [
  'waiting',
  'prioritized',
  'active',
  'delayed',
  'failed',
  'completed',
  'waiting-children',
] as const;

export type ScrapeOptions = {
  db: Db;
  redis: RedisClient;
  queues: JobQueues;
  /** This process's job/provider/limiter figures (from createProcessMetrics). */
  process: ProcessMetrics;
  logger: Logger;
  /** Postgres/Redis figures are re-read at most this often, however often Prometheus scrapes. Default 2,000 ms. */
  cacheMs?: number;
  /**
   * How long a scrape waits for Redis (queue depths, the workers' figures). Default 1,000 ms: the
   * shared connection queues commands while Redis is away, so without a bound a scrape would hang;
   * past it the scrape answers without those figures and `ec_metrics_source_up{source="redis"}` is 0.
   */
  redisTimeoutMs?: number;
};

export type MetricsEndpoint = {
  contentType: string;
  render: () => Promise<string>;
};

/** Memoises an async read for `ttlMs`, sharing one in-flight read between concurrent callers. */
function cached<T>(ttlMs: number, read: () => Promise<T>): () => Promise<T> {
  let at = 0;
  let value: Promise<T> | undefined;
  return () => {
    if (!value || Date.now() - at > ttlMs) {
      at = Date.now();
      value = read();
      value.catch(() => {
        at = 0;
      });
    }
    return value;
  };
}

/**
 * The `/metrics` registry of one API server: process metrics (collectDefaultMetrics on a registry of
 * its own), gauges read from Postgres and Redis when scraped, and the job/provider/limiter figures of
 * this process plus the fresh snapshots published by worker processes.
 */
export function createMetricsEndpoint(opts: ScrapeOptions): MetricsEndpoint {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const cacheMs = opts.cacheMs ?? 2_000;
  const prefix = opts.queues.prefix;

  const snapshot = cached<MetricsSnapshot>(cacheMs, () => metricsSnapshot(opts.db));
  const fromRedis = redisReader(opts.redis, opts.redisTimeoutMs ?? 1_000);
  const queueCounts = cached(cacheMs, () =>
    fromRedis(() =>
      Promise.all(
        QUEUE_NAMES.map(async (name) => ({
          name,
          counts: await opts.queues.queue(name).getJobCounts(...QUEUE_STATES),
        })),
      ),
    ),
  );
  new Gauge({
    name: 'ec_metrics_source_up',
    help: '1 when the last read of a metrics source (postgres, redis) succeeded, else 0',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      const [pg, redis] = await Promise.allSettled([snapshot(), queueCounts()]);
      this.set({ source: 'postgres' }, pg.status === 'fulfilled' ? 1 : 0);
      this.set({ source: 'redis' }, redis.status === 'fulfilled' ? 1 : 0);
    },
  });
  /** Runs `fill` with the source's data; a failing source leaves its gauges empty (and up=0). */
  const from = async <T>(source: 'postgres' | 'redis', read: () => Promise<T>, fill: (v: T) => void) => {
    try {
      fill(await read());
    } catch (err) {
      opts.logger.warn(
        { source, err: err instanceof Error ? err.message : String(err) },
        'metrics source failed',
      );
    }
  };

  new Gauge({
    name: 'ec_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      await from('redis', queueCounts, (rows) => {
        for (const { name, counts } of rows) {
          for (const state of QUEUE_STATES) {
            this.set({ queue: name, state }, counts[state] ?? 0);
          }
        }
      });
    },
  });
  new Gauge({
    name: 'ec_profiles',
    help: 'Profiles by state (connected or disconnected) and disconnect reason',
    labelNames: ['state', 'reason'],
    registers: [registry],
    async collect() {
      this.reset();
      this.set({ state: 'connected', reason: '' }, 0);
      await from('postgres', snapshot, (s) => {
        for (const r of s.profiles) {
          const labels = {
            state: r.connected ? 'connected' : 'disconnected',
            reason: r.connected ? '' : r.reason,
          };
          this.inc(labels, r.count);
        }
      });
    },
  });
  new Gauge({
    name: 'ec_run_items',
    help: 'Provisioning run items by status, summed over all runs (pending = listed but not yet done)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      await from('postgres', snapshot, (s) => {
        const sum = (k: 'listed' | 'provisioned' | 'skipped' | 'failed') =>
          s.runs.reduce((n, r) => n + r[k], 0);
        const active = s.runs.filter((r) => isActiveRunStatus(r.status));
        const activePending = active.reduce((n, r) => n + r.listed - r.provisioned - r.skipped - r.failed, 0);
        this.set({ status: 'listed' }, sum('listed'));
        this.set({ status: 'provisioned' }, sum('provisioned'));
        this.set({ status: 'skipped' }, sum('skipped'));
        this.set({ status: 'failed' }, sum('failed'));
        this.set({ status: 'pending' }, Math.max(0, activePending));
      });
    },
  });
  new Gauge({
    name: 'ec_runs',
    help: 'Provisioning runs by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      await from('postgres', snapshot, (s) => {
        for (const r of s.runs) {
          this.set({ status: r.status }, r.count);
        }
      });
    },
  });
  new Gauge({
    name: 'ec_deliveries',
    help: 'Outbound deliveries (callbacks, notifications) by kind and status; status="dead" are dead letters',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      this.set({ kind: 'callback', status: 'dead' }, 0);
      await from('postgres', snapshot, (s) => {
        for (const r of s.deliveries) {
          this.set({ kind: r.kind, status: r.status }, r.count);
        }
      });
    },
  });
  new Gauge({
    name: 'ec_delivery_attempts',
    help: 'Delivery attempts made so far (sum over stored deliveries), by kind and current status',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      this.set({ kind: 'callback', status: 'delivered' }, 0);
      await from('postgres', snapshot, (s) => {
        for (const r of s.deliveries) {
          this.set({ kind: r.kind, status: r.status }, r.attempts);
        }
      });
    },
  });
  new Gauge({
    name: 'ec_service_accounts',
    help: 'Service Accounts by provider and status (active, broken, revoked)',
    labelNames: ['provider', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      await from('postgres', snapshot, (s) => {
        for (const r of s.serviceAccounts) {
          this.set({ provider: r.provider, status: r.status }, r.count);
        }
      });
    },
  });
  registerCredentialExpiryGauge(registry, { db: opts.db, logger: opts.logger, cacheMs });
  const workerProcesses = new Gauge({
    name: 'ec_metrics_worker_processes',
    help: 'Worker processes whose job/provider/limiter metrics were merged into this scrape',
    registers: [registry],
  });

  return {
    contentType: registry.contentType,
    render: async () => {
      let shared: unknown[][] = [];
      try {
        shared = await fromRedis(() => readSharedMetrics(opts.redis, prefix));
      } catch (err) {
        opts.logger.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'reading worker metrics failed',
        );
      }
      workerProcesses.set(shared.length);
      const own = await registry.getMetricsAsJSON();
      const work = await opts.process.registry.getMetricsAsJSON();
      return AggregatorRegistry.aggregate([own, work, ...shared]).metrics();
    },
  };
}
