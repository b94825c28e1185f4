import { randomUUID } from 'node:crypto';
import { RateLimitedError } from '../errors.js';
import { type FixedWindow, type Lease, takeFromWindows } from '../lib/fixed-windows.js';
import type { RedisClient } from '../lib/redis.js';
import {
  API_QUOTAS,
  DEFAULT_SAFETY_MARGIN,
  type ProviderApi,
  planWindows,
  type QuotaLimit,
  type QuotaName,
  type QuotaOverrides,
  resolveQuota,
  type WindowPlan,
} from './quotas.js';
import { abortable, sleep } from './signals.js';

/** One provider call about to be made. */
export type LimitRequest = {
  serviceAccountId: string;
  api: ProviderApi;
  /**
   * The mailbox the call is for: the impersonated subject for Google Calendar, the mailbox for
   * Microsoft Outlook calls. Required for the per-mailbox quotas.
   */
  mailbox?: string;
  overrides?: QuotaOverrides | undefined;
  signal?: AbortSignal | undefined;
};

/** Permission to make one call; `release()` (idempotent) frees its concurrency slot. */
export type Permit = { waitedMs: number; release(): Promise<void> };

export type WaitEvent = { api: ProviderApi; quota: QuotaName; serviceAccountId: string; waitedMs: number };

export type LimiterStats = {
  /** Permits granted. */
  acquired: number;
  /** Permits that had to wait, and the total time waited (ms), overall and per quota. */
  waited: number;
  waitedMs: number;
  byQuota: Partial<Record<QuotaName, { waits: number; waitedMs: number }>>;
  /** Acquisitions given up after `maxWaitMs` (thrown as RateLimitedError). */
  refused: number;
};

/**
 * The shared provider limiter: quotas are enforced before calls, across every worker process
 * (STYLE rule 6; the interface shape follows Unkey's ratelimit interface + noop).
 */
export interface ProviderLimiter {
  /**
   * Waits until every quota of `req.api` has room (and a concurrency slot for Microsoft mailbox
   * calls). Throws RateLimitedError with `retryAfterMs` when that would take longer than the
   * limiter's `maxWaitMs`, so the job can be delayed instead of holding a worker.
   */
  acquire(req: LimitRequest): Promise<Permit>;
  stats(): LimiterStats;
}

export type RedisLimiterOptions = {
  /** An ioredis client; the limiter does not close it. */
  redis: RedisClient;
  /** Prefix of every key, e.g. `${QUEUE_PREFIX}:quota` (keep the `{…}` hash tag for Redis Cluster). */
  keyPrefix: string;
  /** Share of each rate quota used. Default 0.95. */
  safetyMargin?: number;
  /** Longest an acquire waits before throwing RateLimitedError. Default 20,000 ms. */
  maxWaitMs?: number;
  /** Called after each wait on a quota, e.g. to feed a histogram. */
  onWait?: (event: WaitEvent) => void;
};

const CONCURRENCY_POLL_MS = 25;

function emptyStats(): LimiterStats {
  return { acquired: 0, waited: 0, waitedMs: 0, byQuota: {}, refused: 0 };
}

function normaliseMailbox(mailbox: string | undefined): string {
  return (mailbox ?? '').trim().toLowerCase();
}

/**
 * Quotas counted in Redis fixed windows (quotas.ts planWindows) and, for Microsoft mailbox calls, a
 * per-mailbox concurrency lease (a sorted set of lease ids by expiry, so a crashed process's slot is
 * freed after the lease). One script takes every point and the lease of a call together, all or
 * nothing, in one round trip (lib/fixed-windows.ts): a refused attempt holds nothing while it waits.
 */
export class RedisProviderLimiter implements ProviderLimiter {
  private readonly margin: number;
  private readonly maxWaitMs: number;
  private readonly counters = emptyStats();
  private readonly plans = new Map<string, WindowPlan>();

  constructor(private readonly opts: RedisLimiterOptions) {
    this.margin = opts.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
    this.maxWaitMs = opts.maxWaitMs ?? 20_000;
  }

  stats(): LimiterStats {
    return structuredClone(this.counters);
  }

  /** planWindows searches every window length: remembered per quota size. */
  private planFor(limit: QuotaLimit): WindowPlan {
    const id = `${limit.points}/${limit.durationSecs}`;
    let plan = this.plans.get(id);
    if (!plan) {
      plan = planWindows(limit, this.margin);
      this.plans.set(id, plan);
    }
    return plan;
  }

  async acquire(req: LimitRequest): Promise<Permit> {
    const started = Date.now();
    const mailbox = normaliseMailbox(req.mailbox);
    const quotas: QuotaName[] = [];
    const windows: FixedWindow[] = [];
    for (const { quota, perMailbox } of API_QUOTAS[req.api]) {
      const plan = this.planFor(resolveQuota(quota, req.overrides));
      const subject = perMailbox ? `${req.serviceAccountId}:${mailbox}` : req.serviceAccountId;
      quotas.push(quota);
      // The window length is part of the key: counters of different window lengths never mix.
      windows.push({
        key: `${this.opts.keyPrefix}:${quota}:w${plan.windowSecs}:${subject}`,
        points: plan.points,
        ms: plan.windowSecs * 1000,
      });
    }
    let lease: Lease | undefined;
    if (req.api === 'microsoft.mailbox') {
      const limit = resolveQuota('microsoft.mailbox.concurrent', req.overrides);
      quotas.push('microsoft.mailbox.concurrent');
      lease = {
        key: `${this.opts.keyPrefix}:microsoft.mailbox.concurrent:${req.serviceAccountId}:${mailbox}`,
        limit: limit.points,
        leaseMs: limit.durationSecs * 1000,
        id: randomUUID(),
      };
    }
    const waited = new Map<QuotaName, number>();
    for (;;) {
      const answer = await abortable(takeFromWindows(this.opts.redis, windows, lease), req.signal);
      const quota = quotas[answer.blocked - 1];
      if (quota === undefined) {
        break;
      }
      // A lease is polled (a holder may finish any moment); a window is slept until it ends, with
      // a little jitter so that waiters of several processes do not all wake on the same tick.
      const waitMs =
        quota === 'microsoft.mailbox.concurrent'
          ? Math.min(answer.waitMs, CONCURRENCY_POLL_MS + Math.floor(Math.random() * CONCURRENCY_POLL_MS))
          : answer.waitMs + Math.floor(Math.random() * Math.min(50, answer.waitMs / 4 + 5));
      this.refuseIfTooLong(req, quota, started, waitMs);
      const t0 = Date.now();
      await sleep(waitMs, req.signal);
      waited.set(quota, (waited.get(quota) ?? 0) + Date.now() - t0);
    }
    let waitedMs = 0;
    for (const [quota, ms] of waited) {
      this.recordWait(req, quota, ms);
      waitedMs += ms;
    }
    this.counters.acquired += 1;
    if (waitedMs > 0) {
      this.counters.waited += 1;
      this.counters.waitedMs += waitedMs;
    }
    let released = lease === undefined;
    return {
      waitedMs,
      release: async () => {
        if (!released && lease) {
          released = true;
          await this.opts.redis.zrem(lease.key, lease.id);
        }
      },
    };
  }

  private refuseIfTooLong(req: LimitRequest, quota: QuotaName, started: number, nextWaitMs: number): void {
    const elapsed = Date.now() - started;
    if (elapsed + nextWaitMs > this.maxWaitMs) {
      this.counters.refused += 1;
      throw new RateLimitedError(Math.max(nextWaitMs, 1), `quota ${quota} is exhausted`, {
        context: { quota, api: req.api, serviceAccountId: req.serviceAccountId },
      });
    }
  }

  private recordWait(req: LimitRequest, quota: QuotaName, waitedMs: number): void {
    const q = this.counters.byQuota[quota] ?? { waits: 0, waitedMs: 0 };
    q.waits += 1;
    q.waitedMs += waitedMs;
    this.counters.byQuota[quota] = q;
    this.opts.onWait?.({ api: req.api, quota, serviceAccountId: req.serviceAccountId, waitedMs });
  }
}

/** A limiter that never waits, for unit tests and the in-memory fake. */
export class NoopLimiter implements ProviderLimiter {
  private acquired = 0;

  async acquire(): Promise<Permit> {
    this.acquired += 1;
    return { waitedMs: 0, release: async () => {} };
  }

  stats(): LimiterStats {
    return { ...emptyStats(), acquired: this.acquired };
  }
}
