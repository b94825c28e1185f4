import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it('holds at most its size at once and serves waiters in arrival order', async () => {
    const gate = new Semaphore(2);
    const started: number[] = [];
    const finish: (() => void)[] = [];
    const runs = [0, 1, 2, 3].map((i) =>
      gate.use(async () => {
        started.push(i);
        await new Promise<void>((r) => finish.push(r));
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(gate.stats).toEqual({ held: 2, waiting: 2 });
    finish[1]?.();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    finish[0]?.();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    expect(gate.stats).toEqual({ held: 2, waiting: 0 });
    finish[2]?.();
    finish[3]?.();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(gate.stats).toEqual({ held: 0, waiting: 0 });
  });

  it('frees the place of a holder that throws', async () => {
    const gate = new Semaphore(1);
    await expect(gate.use(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(gate.stats).toEqual({ held: 0, waiting: 0 });
    expect(await gate.use(async () => 'next')).toBe('next');
  });
});
