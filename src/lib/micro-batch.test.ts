import { describe, expect, it } from 'vitest';
import { microBatcher } from './micro-batch.js';

describe('microBatcher', () => {
  it('sends the calls made together as one batch, and those made while batches run as the next', async () => {
    const batches: number[][] = [];
    let release: (() => void) | undefined;
    const add = microBatcher<number, number>({
      run: async (items) => {
        batches.push(items);
        if (batches.length === 1) {
          await new Promise<void>((r) => {
            release = r;
          });
        }
        return items.map((i) => i * 10);
      },
      maxBatch: 3,
      maxInFlight: 1,
    });
    const first = [1, 2, 3, 4].map(add);
    await new Promise((r) => setImmediate(r));
    // One batch of 3 out; the 4th waits for it (one in flight), and calls made meanwhile join it.
    const second = [5, 6].map(add);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1, 2, 3]]);
    release?.();
    expect(await Promise.all([...first, ...second])).toEqual([10, 20, 30, 40, 50, 60]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('runs a failed batch item by item, so only the bad item fails its caller', async () => {
    const batches: number[][] = [];
    const add = microBatcher<number, number>({
      run: async (items) => {
        batches.push(items);
        if (items.includes(13)) {
          throw new Error('refused 13');
        }
        return items.map((i) => i + 1);
      },
      maxBatch: 10,
      maxInFlight: 2,
    });
    const results = await Promise.allSettled([12, 13, 14].map(add));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      13,
      'refused 13',
      15,
    ]);
    expect(batches).toEqual([[12, 13, 14], [12], [13], [14]]);
  });

  it('fails every caller of a batch that answers the wrong number of results', async () => {
    const add = microBatcher<number, number>({ run: async () => [], maxBatch: 5, maxInFlight: 1 });
    await expect(add(1)).rejects.toThrow(/a batch of 1 answered 0 results/);
  });
});
