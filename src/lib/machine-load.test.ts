import { describe, expect, it } from 'vitest';
import { cpuShortage, machineBusyShare } from './machine-load.js';

describe('machineBusyShare', () => {
  it('reads the machine busy while this process spins, between 0 and 1', async () => {
    expect(machineBusyShare()).toBe(0); // nothing measured yet
    const until = Date.now() + 2_300;
    while (Date.now() < until) {
      // one core busy for two sampling intervals
    }
    await new Promise((r) => setTimeout(r, 50)); // the sampling timer, overdue, runs now
    const share = machineBusyShare();
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThanOrEqual(1);
  });
});

describe('cpuShortage', () => {
  it('turns short at the upper threshold and stays so until the share falls below the lower one', () => {
    const shares = [0.5, 0.84, 0.9, 0.8, 0.71, 0.69, 0.8, 0.86];
    let i = 0;
    const short = cpuShortage(0.85, 0.7, () => shares[i++] ?? 0);
    expect(shares.map(() => short())).toEqual([false, false, true, true, true, false, false, true]);
  });
});
