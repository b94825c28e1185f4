import { setMaxListeners } from 'node:events';

/**
 * Counts provider calls made within one piece of work (a provisioning batch, a directory page),
 * by API, without threading a counter through every adapter: the work runs inside `withCallTally`
 * with a signal of its own, and every provider call made with that signal (providers/call.ts) adds
 * to its tally. Calls made with any other signal are not counted here (metrics still see them).
 *
 * Keyed by the signal rather than held in an AsyncLocalStorage: the signal already reaches every
 * provider call, while an AsyncLocalStorage turns on Node's async hooks for the whole process, a
 * JavaScript hook on every promise a worker creates (about 4 % of a worker's CPU in a mailbox run).
 */
export type CallTally = Map<string, number>;

const tallies = new WeakMap<AbortSignal, CallTally>();

/**
 * Runs `fn` with a fresh tally and a signal that aborts when `signal` does; `onDone` gets the counts,
 * also when `fn` throws.
 */
export async function withCallTally<T>(
  signal: AbortSignal | undefined,
  fn: (signal: AbortSignal) => Promise<T>,
  onDone: (tally: CallTally) => Promise<void>,
): Promise<T> {
  const own = new AbortController();
  // Every provider call of the step listens to it (as to the worker's signal, which allows any number).
  setMaxListeners(0, own.signal);
  const forward = () => own.abort(signal?.reason);
  if (signal?.aborted) {
    forward();
  } else {
    signal?.addEventListener('abort', forward, { once: true });
  }
  const tally: CallTally = new Map();
  tallies.set(own.signal, tally);
  try {
    return await fn(own.signal);
  } finally {
    signal?.removeEventListener('abort', forward);
    await onDone(tally);
  }
}

/** One provider call to `api` made with `signal`, counted in the tally of the work it belongs to (if any). */
export function tallyCall(api: string, signal: AbortSignal | undefined): void {
  const tally = signal ? tallies.get(signal) : undefined;
  if (tally) {
    tally.set(api, (tally.get(api) ?? 0) + 1);
  }
}
