import type { Server } from '../api/server.js';
import { type CloseOptions, exitOnSignals, type Shutdown, type Stopped } from '../lib/shutdown.js';
import type { Logger } from '../logger.js';

/**
 * How long each long-running process may take to stop on SIGTERM, and the bounds of its steps. Each
 * whole budget is below the process's `terminationGracePeriodSeconds` in deploy/kubernetes (API 30 s,
 * worker 45 s, scheduler 20 s), so the process exits by itself before it is killed.
 */
export const STOP_BUDGETS = {
  api: { graceMs: 25_000, httpMs: 10_000 },
  /** `drainMs`: active jobs' time to finish (one 30 s job lock); cut short while Redis is away. */
  worker: { graceMs: 42_000, drainMs: 30_000 },
  scheduler: { graceMs: 15_000 },
} as const;

/** Bound on closers that talk to Redis (a queue's or the metrics publisher's last command). */
export const REDIS_STEP: CloseOptions = { timeoutMs: 3_000 };
/** Bound on closing the runtime: its Redis steps (bounded inside) then Postgres' pool (5 s). */
export const RUNTIME_STEP: CloseOptions = { timeoutMs: 9_000 };

/** SIGTERM/SIGINT stop the process within `graceMs`, logging how each step went. */
export function stopOnSignals(shutdown: Shutdown, logger: Logger, graceMs: number): void {
  exitOnSignals(shutdown, {
    graceMs,
    onStopped: ({ signal, ms, forced, steps }: Stopped) => {
      logger.info(
        {
          signal,
          ms,
          forced,
          steps: Object.fromEntries(steps.map((s) => [s.name, `${s.outcome} ${s.ms} ms`])),
        },
        'stopped',
      );
    },
  });
}

/**
 * Closes the HTTP server: in-flight requests get `ms` to finish (routes that need Redis answer 503
 * within 2 s), then every connection still open is cut (a client trickling its request would
 * otherwise hold the close for the whole 30 s request timeout). Resolves true when it cut some.
 */
export async function closeHttp(server: Server, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const closing = server.close().then(() => false);
  closing.catch(() => {});
  const cut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => {
      server.server.closeAllConnections();
      resolve(true);
    }, ms);
  });
  return Promise.race([closing, cut]).finally(() => clearTimeout(timer));
}
