import {
  addRunProviderCallsCheaply,
  CALL_SLOT_SECS,
  decidedItemsPerBucket,
  providerCallsPerBucket,
} from '../db/queries/run-charts.js';
import { findRun } from '../db/queries/runs.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { ProvisioningRun } from '../db/schema/provisioning-runs.js';
import { withCallTally } from '../lib/call-tally.js';
import { API_QUOTAS, type ProviderApi, type QuotaOverrides, resolveQuota } from '../providers/quotas.js';
import type { AppContext } from './context.js';

/**
 * What a run's page draws: its items decided per minute (provisioned, skipped, failed) and its
 * provider calls per minute by API against each API's project- or app-wide quota.
 */

/**
 * Runs one pipeline step (a provisioning batch, a directory page) with a signal of its own (aborted
 * with `signal`; the step passes it to its provider calls) and adds the provider calls it made with
 * it to its run's per-slot counts: one upsert per step, after the step (its own transaction is
 * not held longer). Counting never fails the step; a lost count is only a thinner picture.
 */
export async function countRunCalls<T>(
  app: AppContext,
  runId: string,
  signal: AbortSignal | undefined,
  step: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return withCallTally(signal, step, async (tally) => {
    if (tally.size === 0) {
      return;
    }
    try {
      await addRunProviderCallsCheaply(app.db, runId, new Date(), tally);
    } catch (err) {
      app.logger.warn({ err, runId }, 'provider calls of a run step not recorded');
    }
  });
}

export type ChartPoint = { at: Date; values: Record<string, number> };

export type QuotaLine = {
  api: string;
  /** The provider's quota, in calls per minute across the whole Service Account. */
  perMinute: number;
  /** As the provider documents it, e.g. `10,000 per 60 s`. */
  documented: string;
};

export type RunCharts = {
  bucketSecs: number;
  from: Date;
  to: Date;
  /** Items per minute in each bucket, by `provisioned` (or would provision), `skipped`, `failed`. */
  progress: ChartPoint[];
  /** Provider calls per minute in each bucket, by API. */
  calls: ChartPoint[];
  apis: string[];
  /** Aggregate quotas of the APIs called (per-mailbox quotas are left out: no single line for them). */
  quotas: QuotaLine[];
  /** The API whose peak came closest to its quota (null when none has an aggregate quota). */
  binding: { api: string; peakPerMinute: number; perMinute: number } | null;
};

/** Bucket widths drawn, so that a run of any length shows at most ~120 bars. */
const BUCKETS_SECS = [10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];
const MAX_BARS = 120;

export function bucketFor(spanSecs: number): number {
  return BUCKETS_SECS.find((b) => spanSecs / b <= MAX_BARS) ?? 86400;
}

const PROGRESS_KEY: Record<string, string> = {
  provisioned: 'provisioned',
  would_provision: 'provisioned',
  skipped: 'skipped',
  failed: 'failed',
};

function quotaLines(apis: string[], overrides: QuotaOverrides | undefined): QuotaLine[] {
  const out: QuotaLine[] = [];
  for (const api of apis) {
    const quotas = API_QUOTAS[api as ProviderApi];
    for (const q of quotas?.filter((x) => !x.perMailbox) ?? []) {
      const limit = resolveQuota(q.quota, overrides);
      out.push({
        api,
        perMinute: (limit.points * 60) / limit.durationSecs,
        documented: `${limit.points.toLocaleString('en-US')} per ${limit.durationSecs} s`,
      });
    }
  }
  return out;
}

export async function runCharts(app: AppContext, run: ProvisioningRun, now = new Date()): Promise<RunCharts> {
  const start = run.startedAt ?? run.createdAt;
  const end = run.finishedAt ?? now;
  const bucketSecs = bucketFor(Math.max(1, (end.getTime() - start.getTime()) / 1000));
  const [items, calls, sa] = await Promise.all([
    decidedItemsPerBucket(app.db, run.id, bucketSecs),
    providerCallsPerBucket(app.db, run.id, Math.max(bucketSecs, CALL_SLOT_SECS)),
    findServiceAccount(app.db, run.serviceAccountId),
  ]);
  const perMinute = 60 / bucketSecs;
  const firstBucket = Math.floor(start.getTime() / 1000 / bucketSecs) * bucketSecs;
  const lastBucket = Math.max(
    firstBucket,
    ...items.map((i) => i.bucket),
    ...calls.map((c) => c.bucket),
    Math.floor(end.getTime() / 1000 / bucketSecs) * bucketSecs,
  );
  const progress: ChartPoint[] = [];
  const callPoints: ChartPoint[] = [];
  const index = new Map<number, number>();
  const from = Math.min(firstBucket, ...items.map((i) => i.bucket), ...calls.map((c) => c.bucket));
  for (let b = from; b <= lastBucket; b += bucketSecs) {
    index.set(b, progress.length);
    progress.push({ at: new Date(b * 1000), values: { provisioned: 0, skipped: 0, failed: 0 } });
    callPoints.push({ at: new Date(b * 1000), values: {} });
  }
  for (const i of items) {
    const point = progress[index.get(i.bucket) ?? -1];
    const key = PROGRESS_KEY[i.status];
    if (point && key) {
      point.values[key] = (point.values[key] ?? 0) + i.count * perMinute;
    }
  }
  const apis = [...new Set(calls.map((c) => c.api))].sort();
  for (const c of calls) {
    const point = callPoints[index.get(c.bucket) ?? -1];
    if (point) {
      point.values[c.api] = (point.values[c.api] ?? 0) + c.calls * perMinute;
    }
  }
  const quotas = quotaLines(apis, sa?.quotaOverrides);
  let binding: RunCharts['binding'] = null;
  for (const q of quotas) {
    const peak = Math.max(0, ...callPoints.map((p) => p.values[q.api] ?? 0));
    if (!binding || peak / q.perMinute > binding.peakPerMinute / binding.perMinute) {
      binding = { api: q.api, peakPerMinute: peak, perMinute: q.perMinute };
    }
  }
  return {
    bucketSecs,
    from: new Date(from * 1000),
    to: new Date((lastBucket + bucketSecs) * 1000),
    progress,
    calls: callPoints,
    apis,
    quotas,
    binding,
  };
}

/** The charts of a run by id (undefined: no such run). */
export async function runChartsOf(app: AppContext, runId: string): Promise<RunCharts | undefined> {
  const run = await findRun(app.db, runId);
  return run ? runCharts(app, run) : undefined;
}
