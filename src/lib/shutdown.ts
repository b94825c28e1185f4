/**
 * Graceful stop for long-running processes: the first SIGINT/SIGTERM aborts the returned signal and
 * runs the closers in reverse order of registration (stop taking work first, close Redis/Postgres
 * last); a second signal exits at once.
 */
export type Closer = { name: string; close: () => Promise<void> };

export type Shutdown = {
  signal: AbortSignal;
  onClose: (name: string, close: () => Promise<void>) => void;
  /** Runs every closer once; safe to call more than once. */
  close: () => Promise<void>;
};

export function createShutdown(onError: (name: string, err: unknown) => void): Shutdown {
  const controller = new AbortController();
  const closers: Closer[] = [];
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      controller.abort();
      for (const c of closers.reverse()) {
        try {
          await c.close();
        } catch (err) {
          onError(c.name, err);
        }
      }
    })();
    return closing;
  };
  return {
    signal: controller.signal,
    onClose: (name, fn) => {
      closers.push({ name, close: fn });
    },
    close,
  };
}

/** Wires SIGINT/SIGTERM to `shutdown.close()`, then exits with `code`. */
export function exitOnSignals(shutdown: Shutdown, code = 0): void {
  let count = 0;
  const handler = () => {
    count += 1;
    if (count > 1) {
      process.exit(130);
    }
    void shutdown.close().then(() => process.exit(code));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
