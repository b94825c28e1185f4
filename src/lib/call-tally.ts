import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Counts provider calls made within one piece of work (a provisioning batch, a directory page),
 * by API, without threading a counter through every adapter: the work runs inside `withCallTally`,
 * and every provider call made in its async context (providers/call.ts) adds to it. Calls made
 * outside any tally are not counted here (metrics still see them).
 */
export type CallTally = Map<string, number>;

const current = new AsyncLocalStorage<CallTally>();

/** Runs `fn` with a fresh tally; `onDone` gets the counts, also when `fn` throws. */
export async function withCallTally<T>(
  fn: () => Promise<T>,
  onDone: (tally: CallTally) => Promise<void>,
): Promise<T> {
  const tally: CallTally = new Map();
  try {
    return await current.run(tally, fn);
  } finally {
    await onDone(tally);
  }
}

/** One provider call to `api`, counted in the tally of the work it belongs to (if any). */
export function tallyCall(api: string): void {
  const tally = current.getStore();
  if (tally) {
    tally.set(api, (tally.get(api) ?? 0) + 1);
  }
}
