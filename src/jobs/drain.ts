import type { RedisClient } from '../lib/redis.js';
import type { WorkerSet } from './worker.js';

export type DrainOptions = {
  /** The longest the active jobs may take to finish. Default 30 s (one job lock). */
  maxMs?: number;
  /**
   * With Redis away an active job can never be recorded as done, so waiting is pointless: once the
   * connection has not been ready for this long, the workers are closed by force. Default 2 s.
   */
  redisAwayMs?: number;
  /** Bound on the forced close itself (it still tries to tell Redis). Default 2 s. */
  forceMs?: number;
};

export type DrainResult = { forced: boolean; reason: 'drained' | 'max_ms' | 'redis_away' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `ec worker`'s stop: let active jobs finish (`WorkerSet.close`), but only for a bounded time, and
 * not at all while Redis is away; then close the BullMQ workers by force. A job cut short keeps its
 * lock until it lapses and is then run again by another worker (handlers are idempotent).
 */
export async function drainWorkers(
  set: WorkerSet,
  redis: RedisClient,
  opts: DrainOptions = {},
): Promise<DrainResult> {
  const maxMs = opts.maxMs ?? 30_000;
  const awayMs = opts.redisAwayMs ?? 2_000;
  let done = false;
  const closing = set.close().finally(() => {
    done = true;
  });
  closing.catch(() => {});
  const begun = Date.now();
  let lastReady = Date.now();
  let reason: DrainResult['reason'] = 'drained';
  while (!done) {
    const now = Date.now();
    if (redis.status === 'ready') {
      lastReady = now;
    }
    if (now - lastReady >= awayMs) {
      reason = 'redis_away';
      break;
    }
    if (now - begun >= maxMs) {
      reason = 'max_ms';
      break;
    }
    await Promise.race([closing.catch(() => {}), sleep(100)]);
  }
  if (done) {
    await closing;
    return { forced: false, reason: 'drained' };
  }
  const forced = Promise.all(set.workers.map((w) => w.close(true)));
  forced.catch(() => {});
  await Promise.race([forced, sleep(opts.forceMs ?? 2_000)]);
  return { forced: true, reason };
}
