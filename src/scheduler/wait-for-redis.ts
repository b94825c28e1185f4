import { withDeadline } from '../lib/deadline.js';
import type { RedisClient } from '../lib/redis.js';
import type { Logger } from '../logger.js';

export type WaitForRedisOptions = {
  /** Bound on one PING. Default 2 s. */
  pingTimeoutMs?: number;
  /** Pause between attempts: doubles from `firstRetryMs` (default 500 ms) up to `maxRetryMs` (5 s). */
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** A still-waiting line is logged again at most this often. Default 30 s. */
  logEveryMs?: number;
};

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Waits until Redis answers a PING, however long that takes: `ec scheduler` started before Redis (a
 * rollout, a Redis restart) waits and then registers its schedules, instead of exiting. Returns
 * false when `signal` aborts first (the process is stopping).
 */
export async function waitForRedis(
  redis: RedisClient,
  logger: Logger,
  signal: AbortSignal,
  opts: WaitForRedisOptions = {},
): Promise<boolean> {
  const pingTimeoutMs = opts.pingTimeoutMs ?? 2_000;
  const maxRetryMs = opts.maxRetryMs ?? 5_000;
  const logEveryMs = opts.logEveryMs ?? 30_000;
  let retryMs = opts.firstRetryMs ?? 500;
  let waitingSince: number | undefined;
  let loggedAt = 0;
  // A PING waits in the offline queue while ioredis reconnects: the connection's error says why.
  let lastError: string | undefined;
  const onError = (err: Error) => {
    lastError = err.message;
  };
  redis.on('error', onError);
  try {
    return await attempt();
  } finally {
    redis.off('error', onError);
  }

  async function attempt(): Promise<boolean> {
    while (!signal.aborted) {
      try {
        await withDeadline(
          redis.ping(),
          pingTimeoutMs,
          () => new Error(`no answer within ${pingTimeoutMs} ms`),
        );
        if (waitingSince !== undefined) {
          logger.info(
            { waitedMs: Date.now() - waitingSince },
            'redis is back: registering the job schedulers',
          );
        }
        return true;
      } catch (err) {
        const now = Date.now();
        waitingSince ??= now;
        if (now - loggedAt >= logEveryMs) {
          loggedAt = now;
          logger.warn(
            { err: lastError ?? errText(err), retryInMs: retryMs, waitedMs: now - waitingSince },
            'redis unreachable: waiting for it before registering the job schedulers',
          );
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, retryMs);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
      retryMs = Math.min(retryMs * 2, maxRetryMs);
    }
    return false;
  }
}
