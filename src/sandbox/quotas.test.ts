import { describe, expect, test } from 'vitest';
import { DEFAULT_QUOTAS } from './config.js';
import { Counters } from './counters.js';
import { Quotas, SlidingWindow } from './quotas.js';

describe('SlidingWindow', () => {
  test('admits up to the limit per window and per key, then says how long to wait', () => {
    const w = new SlidingWindow(60_000);
    const t0 = 6_000_000;
    for (let k = 0; k < 3; k++) {
      expect(w.take('a', 3, t0 + k)).toBeUndefined();
    }
    expect(w.take('a', 3, t0 + 10)).toBeGreaterThanOrEqual(1);
    expect(w.take('b', 3, t0 + 10)).toBeUndefined();
  });

  test('the previous window still weighs in, then decays', () => {
    const w = new SlidingWindow(60_000);
    const t0 = 6_000_000;
    for (let k = 0; k < 10; k++) {
      w.take('a', 10, t0 + k);
    }
    // 6 s into the next window, 90% of the previous 10 still count: room for one more, not two.
    expect(w.take('a', 10, t0 + 66_000)).toBeUndefined();
    expect(w.take('a', 10, t0 + 66_001)).toBeGreaterThanOrEqual(1);
    // 59 s in, about 0.2 of them count.
    expect(w.take('a', 10, t0 + 119_000)).toBeUndefined();
  });
});

describe('Quotas', () => {
  test('mailbox concurrency over the limit is refused and counted; disabled quotas admit all', () => {
    const counters = new Counters();
    let config = { ...DEFAULT_QUOTAS, graphConcurrentPerMailbox: 2 };
    const q = new Quotas(() => config, counters);
    expect([q.enterMailbox('m'), q.enterMailbox('m'), q.enterMailbox('m')]).toEqual([true, true, false]);
    q.leaveMailbox('m');
    expect(counters.snapshot().quotaViolations.byQuota).toEqual({ 'microsoft.mailboxConcurrency': 1 });
    expect(counters.snapshot().concurrency).toEqual({ peakPerMailbox: 3, byMailbox: { m: 3 } });
    config = { ...config, enabled: false };
    expect(q.enterMailbox('m')).toBe(true);
    expect(q.directoryCall()).toBeUndefined();
  });
});
