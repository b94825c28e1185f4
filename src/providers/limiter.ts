import { randomUUID } from 'node:crypto';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors.js';
import type { RedisClient } from '../lib/redis.js';
import {
  API_QUOTAS,
  DEFAULT_SAFETY_MARGIN,
  type ProviderApi,
  planWindows,
  type QuotaName,
  type QuotaOverrides,
  resolveQuota,
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

/**
 * A Redis sorted set of leases per mailbox: member = lease id, score = expiry (Redis clock). Expired
 * leases (a process that crashed mid-call) are dropped before counting, so no slot is held forever.
 * Returns 0 when the lease was taken, else the ms until the oldest lease expires.
 */
const ACQUIRE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) - now)
`;

type SlotRedis = RedisClient & {
  ecAcquireSlot(key: string, limit: number, leaseMs: number, id: string): Promise<number>;
};

function emptyStats(): LimiterStats {
  return { acquired: 0, waited: 0, waitedMs: 0, byQuota: {}, refused: 0 };
}

function normaliseMailbox(mailbox: string | undefined): string {
  return (mailbox ?? '').trim().toLowerCase();
}

export class RedisProviderLimiter implements ProviderLimiter {
  private readonly limiters = new Map<string, RateLimiterRedis>();
  private readonly redis: SlotRedis;
  private readonly margin: number;
  private readonly maxWaitMs: number;
  private readonly counters = emptyStats();

  constructor(private readonly opts: RedisLimiterOptions) {
    this.margin = opts.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
    this.maxWaitMs = opts.maxWaitMs ?? 20_000;
    const redis = opts.redis as SlotRedis;
    if (typeof redis.ecAcquireSlot !== 'function') {
      redis.defineCommand('ecAcquireSlot', { numberOfKeys: 1, lua: ACQUIRE_SLOT });
    }
    this.redis = redis;
  }

  stats(): LimiterStats {
    return structuredClone(this.counters);
  }

  async acquire(req: LimitRequest): Promise<Permit> {
    const started = Date.now();
    const mailbox = normaliseMailbox(req.mailbox);
    const taken: { limiter: RateLimiterRedis; key: string }[] = [];
    let waitedMs = 0;
    try {
      for (const { quota, perMailbox } of API_QUOTAS[req.api]) {
        const key = perMailbox ? `${req.serviceAccountId}:${mailbox}` : req.serviceAccountId;
        const limiter = this.rateLimiter(quota, req.overrides);
        waitedMs += await this.takePoint(req, quota, limiter, key, started);
        taken.push({ limiter, key });
      }
      let release = async (): Promise<void> => {};
      if (req.api === 'microsoft.mailbox') {
        const slot = await this.takeSlot(req, mailbox, started);
        waitedMs += slot.waitedMs;
        release = slot.release;
      }
      this.counters.acquired += 1;
      if (waitedMs > 0) {
        this.counters.waited += 1;
        this.counters.waitedMs += waitedMs;
      }
      return { waitedMs, release };
    } catch (err) {
      // Points taken for a call that will not happen go back.
      await Promise.allSettled(taken.map((t) => t.limiter.reward(t.key, 1)));
      throw err;
    }
  }

  private rateLimiter(quota: QuotaName, overrides: QuotaOverrides | undefined): RateLimiterRedis {
    const plan = planWindows(resolveQuota(quota, overrides), this.margin);
    const id = `${quota}|${plan.points}|${plan.windowSecs}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.opts.redis,
        // The window length is part of the key: counters of different window lengths never mix.
        keyPrefix: `${this.opts.keyPrefix}:${quota}:w${plan.windowSecs}`,
        points: plan.points,
        duration: plan.windowSecs,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  /** Consumes one point, sleeping until the window has room; returns the ms waited. */
  private async takePoint(
    req: LimitRequest,
    quota: QuotaName,
    limiter: RateLimiterRedis,
    key: string,
    started: number,
  ): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      let res: RateLimiterRes;
      try {
        await abortable(limiter.consume(key, 1), req.signal);
        break;
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) {
          throw err;
        }
        res = err;
      }
      // A little jitter so that waiters of several processes do not all wake on the same tick.
      const waitMs = res.msBeforeNext + Math.floor(Math.random() * Math.min(50, res.msBeforeNext / 4 + 5));
      this.refuseIfTooLong(req, quota, started, waitMs);
      await sleep(waitMs, req.signal);
    }
    const waited = Date.now() - t0;
    // Under a millisecond or two is the Redis round trip, not a wait.
    return waited > 2 && this.recordWait(req, quota, waited) ? waited : 0;
  }

  private async takeSlot(
    req: LimitRequest,
    mailbox: string,
    started: number,
  ): Promise<{ waitedMs: number; release: () => Promise<void> }> {
    const limit = resolveQuota('microsoft.mailbox.concurrent', req.overrides);
    const key = `${this.opts.keyPrefix}:microsoft.mailbox.concurrent:${req.serviceAccountId}:${mailbox}`;
    const id = randomUUID();
    const leaseMs = limit.durationSecs * 1000;
    const t0 = Date.now();
    for (;;) {
      const wait = await abortable(this.redis.ecAcquireSlot(key, limit.points, leaseMs, id), req.signal);
      if (wait === 0) {
        break;
      }
      this.refuseIfTooLong(req, 'microsoft.mailbox.concurrent', started, CONCURRENCY_POLL_MS);
      await sleep(
        Math.min(wait, CONCURRENCY_POLL_MS + Math.floor(Math.random() * CONCURRENCY_POLL_MS)),
        req.signal,
      );
    }
    const waited = Date.now() - t0;
    const waitedMs = waited > 2 && this.recordWait(req, 'microsoft.mailbox.concurrent', waited) ? waited : 0;
    let released = false;
    return {
      waitedMs,
      release: async () => {
        if (!released) {
          released = true;
          await this.redis.zrem(key, id);
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

  private recordWait(req: LimitRequest, quota: QuotaName, waitedMs: number): true {
    const q = this.counters.byQuota[quota] ?? { waits: 0, waitedMs: 0 };
    q.waits += 1;
    q.waitedMs += waitedMs;
    this.counters.byQuota[quota] = q;
    this.opts.onWait?.({ api: req.api, quota, serviceAccountId: req.serviceAccountId, waitedMs });
    return true;
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
