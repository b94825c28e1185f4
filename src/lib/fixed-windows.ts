import type { RedisClient } from './redis.js';

/**
 * Fixed-window counters in Redis: a key per window holding the window's count, expiring when the
 * window ends. Every window a decision needs is read and counted by one script, so a decision is one
 * round trip however many windows (and leases) it involves. The API's limit (api/rate-limit.ts) and
 * the provider limiter (providers/limiter.ts) both count here.
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
 * KEYS: the windows' counters. ARGV: per window, its points and length in ms. Every window counts
 * the request, refused or not (so a caller that keeps trying stays refused); the answer names the
 * window that refused it for longest.
 */
const COUNT = `
local blocked, wait = 0, 0
for i = 1, #KEYS do
  local ms = tonumber(ARGV[2 * i])
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then
    redis.call('PEXPIRE', KEYS[i], ms)
  end
  if n > tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], ms)
      ttl = ms
    end
    if ttl >= wait then
      blocked, wait = i, ttl
    end
  end
end
return {blocked, wait}
`;

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

type WindowRedis = RedisClient & {
  ecCountWindows(...args: (string | number)[]): Promise<[number, number]>;
  ecTakeWindows(...args: (string | number)[]): Promise<[number, number]>;
};

function withScripts(redis: RedisClient): WindowRedis {
  const r = redis as WindowRedis;
  // numberOfKeys is given per call (the first argument), as the number of windows varies.
  if (typeof r.ecCountWindows !== 'function') {
    r.defineCommand('ecCountWindows', { lua: COUNT });
  }
  if (typeof r.ecTakeWindows !== 'function') {
    r.defineCommand('ecTakeWindows', { lua: TAKE });
  }
  return r;
}

const answer = ([blocked, waitMs]: [number, number]): WindowAnswer => ({
  blocked: Number(blocked),
  waitMs: Number(waitMs),
});

/**
 * Counts one request in every window (refused or not). For Redis Cluster every key must hash to one
 * slot: keep the deployment's `{…}`-tagged prefix in front.
 */
export async function countInWindows(
  redis: RedisClient,
  windows: readonly FixedWindow[],
): Promise<WindowAnswer> {
  const args: (string | number)[] = [windows.length, ...windows.map((w) => w.key)];
  for (const w of windows) {
    args.push(w.points, w.ms);
  }
  return answer(await withScripts(redis).ecCountWindows(...args));
}

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
