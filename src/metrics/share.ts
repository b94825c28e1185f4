import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../lib/redis.js';
import type { Logger } from '../logger.js';

/**
 * Worker processes publish their ProcessMetrics registry to one Redis hash (field = process id,
 * value = a JSON snapshot with its time); the API reads the fresh ones at scrape time and merges
 * them, each under a `process` label so a restarted worker is a new series (Prometheus handles its
 * counter reset) instead of a dip in a sum.
 */

/** How often a worker publishes. Default 10 s. */
export const PUBLISH_INTERVAL_MS = 10_000;
/** Snapshots older than this are ignored and removed (the worker stopped). */
export const STALE_AFTER_MS = 3 * PUBLISH_INTERVAL_MS;

export const metricsHashKey = (prefix: string) => `${prefix}:metrics:processes`;

export type Snapshot = { at: number; metrics: unknown[] };

export type Publisher = { publish: () => Promise<void>; close: () => Promise<void> };

/** Publishes `registry` every `intervalMs` until closed; close removes this process's snapshot. */
export function startMetricsPublisher(opts: {
  redis: RedisClient;
  prefix: string;
  registry: Registry;
  logger: Logger;
  intervalMs?: number;
  processId?: string;
}): Publisher {
  const key = metricsHashKey(opts.prefix);
  const field = opts.processId ?? `worker-${hostname()}-${process.pid}`;
  const publish = async () => {
    const snapshot: Snapshot = { at: Date.now(), metrics: await opts.registry.getMetricsAsJSON() };
    await opts.redis.hset(key, field, JSON.stringify(snapshot));
  };
  const timer = setInterval(() => {
    publish().catch((err: unknown) =>
      opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'metrics publish failed'),
    );
  }, opts.intervalMs ?? PUBLISH_INTERVAL_MS);
  timer.unref();
  void publish().catch(() => {});
  return {
    publish,
    close: async () => {
      clearInterval(timer);
      await opts.redis.hdel(key, field).catch(() => {});
    },
  };
}

/** The fresh snapshots, each metric value labelled with its process; stale ones are deleted. */
export async function readSharedMetrics(
  redis: RedisClient,
  prefix: string,
  now = Date.now(),
): Promise<unknown[][]> {
  const key = metricsHashKey(prefix);
  const all = await redis.hgetall(key);
  const out: unknown[][] = [];
  const stale: string[] = [];
  for (const [field, raw] of Object.entries(all)) {
    let snap: Snapshot | undefined;
    try {
      snap = JSON.parse(raw) as Snapshot;
    } catch {
      snap = undefined;
    }
    if (!snap || now - snap.at > STALE_AFTER_MS) {
      stale.push(field);
      continue;
    }
    out.push(
      (snap.metrics as { values?: { labels?: Record<string, unknown> }[] }[]).map((m) => ({
        ...m,
        values: (m.values ?? []).map((v) => ({ ...v, labels: { ...v.labels, process: field } })),
      })),
    );
  }
  if (stale.length > 0) {
    await redis.hdel(key, ...stale);
  }
  return out;
}
