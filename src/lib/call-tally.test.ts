import { describe, expect, it } from 'vitest';
import { tallyCall, withCallTally } from './call-tally.js';

describe('call tallies', () => {
  it('counts the calls made with the step’s signal, by API, and only those', async () => {
    const job = new AbortController();
    let counted = new Map<string, number>();
    const other = await withCallTally(
      job.signal,
      async (signal) => {
        tallyCall('google.calendar', signal);
        await Promise.resolve();
        tallyCall('google.calendar', signal);
        tallyCall('google.directory', signal);
        // The process-wide signal, or none: another step's work or none at all.
        tallyCall('google.calendar', job.signal);
        tallyCall('google.calendar', undefined);
        return 'done';
      },
      async (tally) => {
        counted = tally;
      },
    );
    expect(other).toBe('done');
    expect(Object.fromEntries(counted)).toEqual({ 'google.calendar': 2, 'google.directory': 1 });
  });

  it('lets every call of a step listen to its signal without a listener-leak warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await withCallTally(
        new AbortController().signal,
        async (signal) => {
          // As callSignal does for each of a batch's calls in flight.
          const listeners = Array.from({ length: 50 }, () => () => {});
          for (const l of listeners) {
            signal.addEventListener('abort', l);
          }
          await new Promise((r) => setImmediate(r));
          for (const l of listeners) {
            signal.removeEventListener('abort', l);
          }
        },
        async () => {},
      );
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('keeps concurrent steps apart', async () => {
    const job = new AbortController();
    const seen: Record<string, number>[] = [];
    const step = (n: number) =>
      withCallTally(
        job.signal,
        async (signal) => {
          for (let i = 0; i < n; i++) {
            await new Promise((r) => setTimeout(r, 1));
            tallyCall('microsoft.mailbox', signal);
          }
        },
        async (tally) => {
          seen.push(Object.fromEntries(tally));
        },
      );
    await Promise.all([step(3), step(5)]);
    expect(seen.map((s) => s['microsoft.mailbox']).sort()).toEqual([3, 5]);
  });

  it('aborts the step’s signal with the job’s, and reports the tally when the step throws', async () => {
    const job = new AbortController();
    let reported: Map<string, number> | undefined;
    const err = await withCallTally(
      job.signal,
      async (signal) => {
        tallyCall('google.calendar', signal);
        job.abort(new Error('shutting down'));
        expect(signal.aborted).toBe(true);
        throw signal.reason;
      },
      async (tally) => {
        reported = tally;
      },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('shutting down');
    expect(reported?.get('google.calendar')).toBe(1);

    const already = await withCallTally(
      job.signal,
      async (signal) => signal.aborted,
      async () => {},
    );
    expect(already).toBe(true);
  });
});
