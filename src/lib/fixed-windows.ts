import type { RedisClient } from './redis.js';

/**
 * Fixed-window counters in Redis: a key per window holding the window's count, expiring when the
 * window ends. Every window a decision needs is read and counted by one script, so it is one round
 * trip however many windows (and leases) it involves: the provider limiter (providers/limiter.ts)
 * takes its points with `takeFromWindows`, and the API's limit (api/rate-limit.ts) counts with
 * `BatchedWindows`, which sends many requests' counts in one script.
 */

/** One window: its counter's key, how many points it holds, and its length. */
export type FixedWindow = { key: string; points: number; ms: number };

/** A concurrency lease: at most `limit` holders of `key` at once, each freed after `leaseMs`. */
export type Lease = { key: string; limit: number; leaseMs: number; id: string };

/**
 * The answer: `blocked` 0 when the request may go ahead, else the 1-based index of the window (or,
 * one past the windows, the lease) that refused it; `waitMs` is how long until that one has room.
 */
export type WindowAnswer = { blocked: number; waitMs: number };

/**
 * KEYS: the windows' counters, then optionally a lease set (a sorted set: member = lease id, score =
 * expiry on Redis's clock). ARGV: the number of windows, then per window its points and length in ms,
 * then for a lease: its limit, length in ms and id. All or nothing: the point of every window (and
 * the lease) is taken only when each has room; otherwise nothing is taken and the answer names the
 * window that has room last, or the lease (ms until its oldest holder expires).
 */
const TAKE = `
local n = tonumber(ARGV[1])
local blocked, wait = 0, 0
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[2 * i]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('DEL', KEYS[i])
    elseif ttl >= wait then
      blocked, wait = i, ttl
    end
  end
end
if blocked > 0 then
  return {blocked, wait}
end
if #KEYS > n then
  local lease = KEYS[n + 1]
  local limit, ms, id = tonumber(ARGV[2 * n + 2]), tonumber(ARGV[2 * n + 3]), ARGV[2 * n + 4]
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', lease, '-inf', now)
  if redis.call('ZCARD', lease) >= limit then
    local oldest = redis.call('ZRANGE', lease, 0, 0, 'WITHSCORES')
    return {n + 1, math.max(1, tonumber(oldest[2]) - now)}
  end
  redis.call('ZADD', lease, now + ms, id)
  redis.call('PEXPIRE', lease, ms)
end
for i = 1, n do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])
  end
end
return {0, 0}
`;

/**
 * KEYS: the windows' counters. ARGV: per window, how many requests to add and its length in ms.
 * Returns each window's count and ms left, flat: {count1, ttl1, count2, ttl2, …}.
 */
const ADD = `
local out = {}
for i = 1, #KEYS do
  local ms = tonumber(ARGV[2 * i])
  local n = redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1])
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[i], ms)
    ttl = ms
  end
  out[2 * i - 1] = n
  out[2 * i] = ttl
end
return out
`;

type WindowRedis = RedisClient & {
  ecAddToWindows(...args: (string | number)[]): Promise<number[]>;
  ecTakeWindows(...args: (string | number)[]): Promise<[number, number]>;
};

function withScripts(redis: RedisClient): WindowRedis {
  const r = redis as WindowRedis;
  // numberOfKeys is given per call (the first argument), as the number of windows varies.
  if (typeof r.ecTakeWindows !== 'function') {
    r.defineCommand('ecTakeWindows', { lua: TAKE });
  }
  if (typeof r.ecAddToWindows !== 'function') {
    r.defineCommand('ecAddToWindows', { lua: ADD });
  }
  return r;
}

const answer = ([blocked, waitMs]: [number, number]): WindowAnswer => ({
  blocked: Number(blocked),
  waitMs: Number(waitMs),
});

/** Takes one point of every window, and the lease if one is given, only when all have room. */
export async function takeFromWindows(
  redis: RedisClient,
  windows: readonly FixedWindow[],
  lease?: Lease,
): Promise<WindowAnswer> {
  const args: (string | number)[] = [windows.length + (lease ? 1 : 0), ...windows.map((w) => w.key)];
  if (lease) {
    args.push(lease.key);
  }
  args.push(windows.length);
  for (const w of windows) {
    args.push(w.points, w.ms);
  }
  if (lease) {
    args.push(lease.limit, lease.leaseMs, lease.id);
  }
  return answer(await withScripts(redis).ecTakeWindows(...args));
}

/**
 * The same count in this process's memory, for when Redis cannot answer: each process then limits on
 * its own (the same limits, per process) instead of holding requests or letting all through.
 */
export class MemoryWindows {
  private readonly counts = new Map<string, { n: number; until: number }>();

  constructor(private readonly maxKeys = 10_000) {}

  count(windows: readonly FixedWindow[]): WindowAnswer {
    const now = Date.now();
    if (this.counts.size >= this.maxKeys) {
      for (const [key, c] of this.counts) {
        if (c.until <= now) {
          this.counts.delete(key);
        }
      }
      if (this.counts.size >= this.maxKeys) {
        this.counts.clear();
      }
    }
    let blocked = 0;
    let waitMs = 0;
    windows.forEach((w, i) => {
      let c = this.counts.get(w.key);
      if (!c || c.until <= now) {
        c = { n: 0, until: now + w.ms };
        this.counts.set(w.key, c);
      }
      c.n += 1;
      if (c.n > w.points && c.until - now >= waitMs) {
        blocked = i + 1;
        waitMs = c.until - now;
      }
    });
    return { blocked, waitMs };
  }
}

type Counted = {
  points: number;
  ms: number;
  /** The window's count in Redis as last read: every process's requests up to that read. */
  base: number;
  /** Counted here, not yet sent; and sent, not yet answered. */
  pending: number;
  sending: number;
  /** When the window ends (this process's clock, from the last answer's ms left). */
  until: number;
};

/**
 * The API's counting without a Redis round trip per request: each process decides from the window's
 * count as Redis last said it plus its own requests since, and sends what it counted every `flushMs`
 * (one script for every window it touched), learning the others' counts in the same answer. A window
 * this process has not seen, or whose end has passed, is counted in Redis first (one round trip, the
 * request waiting for it), so a caller's first request in each window sees the shared count. What the
 * other processes counted in the last `flushMs` is missing from a decision: together they may let
 * through that much more than the limit, never less.
 */
export class BatchedWindows {
  private readonly counts = new Map<string, Counted>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: {
      flushMs?: number;
      maxKeys?: number;
      /** A flush Redis did not answer (what it carried is not counted in Redis). */
      onFlushError?: (err: unknown) => void;
    } = {},
  ) {}

  /** Counts one request in every window (refused or not). Throws when Redis fails a first count. */
  async count(windows: readonly FixedWindow[]): Promise<WindowAnswer> {
    const now = Date.now();
    const known = windows.map((w) => this.live(w, now));
    // The request's place in each window: Redis's answer to the send that carried it, or (every
    // window known here) the count as Redis last said plus this process's requests since.
    let totals: number[];
    if (known.some((c) => c === undefined)) {
      totals = await this.send(windows, 1);
    } else {
      totals = (known as Counted[]).map((c) => {
        c.pending += 1;
        return c.base + c.sending + c.pending;
      });
      this.schedule();
    }
    const at = Date.now();
    let blocked = 0;
    let waitMs = 0;
    windows.forEach((w, i) => {
      const until = this.counts.get(w.key)?.until ?? at + w.ms;
      if ((totals[i] ?? 0) > w.points && until - at >= waitMs) {
        blocked = i + 1;
        waitMs = Math.max(1, until - at);
      }
    });
    return { blocked, waitMs };
  }

  /** Sends what is pending now (tests, and closing). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    const due: FixedWindow[] = [];
    for (const [key, c] of this.counts) {
      // A window that ended takes its pending count with it.
      if (c.pending > 0 && c.until > now) {
        due.push({ key, points: c.points, ms: c.ms });
      }
    }
    if (due.length > 0) {
      await this.send(due, 0).catch((err: unknown) => this.opts.onFlushError?.(err));
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The window's count here, if this process has one for the window now running. */
  private live(w: FixedWindow, now: number): Counted | undefined {
    const c = this.counts.get(w.key);
    if (c && c.until > now) {
      c.points = w.points;
      c.ms = w.ms;
      return c;
    }
    if (c) {
      this.counts.delete(w.key); // the window ended: what it had pending counts no more
    }
    return undefined;
  }

  /**
   * Adds each window's pending count (plus `extra`) in Redis, takes the counts Redis answers, and
   * returns them (each window's count with what this send carried).
   */
  private async send(windows: readonly FixedWindow[], extra: number): Promise<number[]> {
    const now = Date.now();
    const sent = windows.map((w) => {
      let c = this.live(w, now);
      if (!c) {
        this.prune(now);
        c = { points: w.points, ms: w.ms, base: 0, pending: 0, sending: 0, until: now + w.ms };
        this.counts.set(w.key, c);
      }
      const n = c.pending + extra;
      c.pending = 0;
      c.sending += n;
      return { c, n };
    });
    const args: (string | number)[] = [windows.length, ...windows.map((w) => w.key)];
    windows.forEach((w, i) => {
      args.push(sent[i]?.n ?? 0, w.ms);
    });
    let answer: number[];
    try {
      answer = await withScripts(this.redis).ecAddToWindows(...args);
    } catch (err) {
      for (const { c, n } of sent) {
        c.sending -= n;
      }
      throw err;
    }
    const at = Date.now();
    return sent.map(({ c, n }, i) => {
      const count = Number(answer[2 * i]);
      c.sending -= n;
      // Counts only grow within a window; answers to earlier sends may carry older counts.
      c.base = Math.max(c.base, count);
      c.until = at + Number(answer[2 * i + 1]);
      return count;
    });
  }

  private schedule(): void {
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.opts.flushMs ?? 10);
      this.timer.unref();
    }
  }

  private prune(now: number): void {
    if (this.counts.size < (this.opts.maxKeys ?? 10_000)) {
      return;
    }
    for (const [key, c] of this.counts) {
      if (c.until <= now) {
        this.counts.delete(key);
      }
    }
    if (this.counts.size >= (this.opts.maxKeys ?? 10_000)) {
      this.counts.clear();
    }
  }
}
