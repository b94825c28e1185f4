/**
 * Calls made one at a time by many concurrent requests, sent as one call for many: each `add(item)`
 * joins the next batch, which goes out on the next turn of the event loop while fewer than
 * `maxInFlight` batches are running, else as soon as one finishes (so under load the batches grow
 * by themselves, and a lone call waits one turn at most). `run(items)` answers one result per item,
 * in order.
 *
 * When a batch of several fails as a whole, each item is run again on its own, so one bad item (a
 * value the database refuses, a lock conflict between batches) fails only its own caller.
 */
export type MicroBatchOptions<I, O> = {
  run: (items: I[]) => Promise<O[]>;
  /** Items per call at most. */
  maxBatch: number;
  /** Calls running at once at most. */
  maxInFlight: number;
};

type Pending<I, O> = { item: I; resolve: (value: O) => void; reject: (err: unknown) => void };

export function microBatcher<I, O>(opts: MicroBatchOptions<I, O>): (item: I) => Promise<O> {
  const queue: Pending<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;

  const settle = async (batch: Pending<I, O>[]): Promise<void> => {
    try {
      const results = await opts.run(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} answered ${results.length} results`);
      }
      for (const [i, p] of batch.entries()) {
        p.resolve(results[i] as O);
      }
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err);
        return;
      }
      await Promise.all(batch.map((p) => settle([p])));
    }
  };

  const flush = () => {
    scheduled = false;
    while (queue.length > 0 && inFlight < opts.maxInFlight) {
      const batch = queue.splice(0, opts.maxBatch);
      inFlight += 1;
      void settle(batch).finally(() => {
        inFlight -= 1;
        if (queue.length > 0) {
          schedule();
        }
      });
    }
  };

  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      schedule();
    });
}
