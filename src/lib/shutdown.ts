/**
 * Graceful stop for long-running processes: the first SIGINT/SIGTERM aborts the returned signal and
 * runs the closers in reverse order of registration (stop taking work first, close Redis/Postgres
 * last); a second signal exits at once.
 *
 * Every step is bounded, so a process stops within its grace period even when Redis or Postgres is
 * away (a close that waits on a dead connection never returns by itself): a closer given `timeoutMs`
 * is abandoned after that long and the next one runs, and `exitOnSignals` exits with
 * SHUTDOWN_EXIT_FORCED if the whole sequence outlasts its `graceMs`.
 */
export type CloseOptions = {
  /** Abandon this closer after this many ms (it is reported as timed out). Default: no bound. */
  timeoutMs?: number;
};

/** A closer resolves 'forced' when it had to cut something short itself (e.g. jobs still active). */
export type CloseFn = () => Promise<unknown>;

export type Closer = { name: string; close: CloseFn; timeoutMs: number | undefined };

/** How one closer ended, and after how long. */
export type CloseStep = { name: string; ms: number; outcome: 'ok' | 'forced' | 'failed' | 'timed_out' };

export type Shutdown = {
  signal: AbortSignal;
  onClose: (name: string, close: CloseFn, opts?: CloseOptions) => void;
  /** Runs every closer once; safe to call more than once. Resolves with each closer's outcome. */
  close: () => Promise<CloseStep[]>;
};

/** The exit code of a process whose shutdown outlasted its grace period (`graceMs`) and was cut. */
export const SHUTDOWN_EXIT_FORCED = 70;

/** Default bound on a whole shutdown, below the Kubernetes grace periods (API 30 s, scheduler 20 s). */
export const DEFAULT_GRACE_MS = 18_000;

export class ShutdownTimeoutError extends Error {
  constructor(
    readonly closer: string,
    readonly timeoutMs: number,
  ) {
    super(`${closer} did not close within ${timeoutMs} ms; abandoned`);
    this.name = 'ShutdownTimeoutError';
  }
}

async function runCloser(c: Closer): Promise<unknown> {
  if (c.timeoutMs === undefined) {
    return c.close();
  }
  let timer: NodeJS.Timeout | undefined;
  const work = c.close();
  work.catch(() => {});
  const limit = c.timeoutMs;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShutdownTimeoutError(c.name, limit)), limit);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export function createShutdown(onError: (name: string, err: unknown) => void): Shutdown {
  const controller = new AbortController();
  const closers: Closer[] = [];
  let closing: Promise<CloseStep[]> | undefined;

  const close = (): Promise<CloseStep[]> => {
    closing ??= (async () => {
      controller.abort();
      const steps: CloseStep[] = [];
      for (const c of [...closers].reverse()) {
        const begun = performance.now();
        let outcome: CloseStep['outcome'] = 'ok';
        try {
          if ((await runCloser(c)) === 'forced') {
            outcome = 'forced';
          }
        } catch (err) {
          outcome = err instanceof ShutdownTimeoutError ? 'timed_out' : 'failed';
          onError(c.name, err);
        }
        steps.push({ name: c.name, ms: Math.round(performance.now() - begun), outcome });
      }
      return steps;
    })();
    return closing;
  };
  return {
    signal: controller.signal,
    onClose: (name, fn, opts = {}) => {
      closers.push({ name, close: fn, timeoutMs: opts.timeoutMs });
    },
    close,
  };
}

/** What a process learns when its shutdown ends (to log it): forced when a step was cut short. */
export type Stopped = { signal: string; ms: number; forced: boolean; steps: CloseStep[] };

export type SignalOptions = {
  /** Exit code after a clean shutdown. Default 0. */
  code?: number;
  /** Bound on the whole shutdown; past it the process exits with SHUTDOWN_EXIT_FORCED. Default 18 s. */
  graceMs?: number;
  /** Told once the closers are done (or the grace period is over), just before the exit. */
  onStopped?: (stopped: Stopped) => void;
};

/** Wires SIGINT/SIGTERM to `shutdown.close()`, then exits with `code`. */
export function exitOnSignals(shutdown: Shutdown, opts: SignalOptions = {}): void {
  let count = 0;
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count > 1) {
      process.exit(130);
    }
    const begun = performance.now();
    const report = (forced: boolean, steps: CloseStep[]) =>
      opts.onStopped?.({ signal, ms: Math.round(performance.now() - begun), forced, steps });
    // The backstop: whatever still hangs (a closer without its own bound), the process goes.
    const backstop = setTimeout(() => {
      report(true, []);
      process.exit(SHUTDOWN_EXIT_FORCED);
    }, graceMs);
    void shutdown.close().then((steps) => {
      clearTimeout(backstop);
      report(
        steps.some((s) => s.outcome === 'timed_out' || s.outcome === 'forced'),
        steps,
      );
      process.exit(opts.code ?? 0);
    });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
