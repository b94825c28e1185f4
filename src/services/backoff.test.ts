import { describe, expect, it } from 'vitest';
import { backoffMs, MAX_BACKOFF_SECS, nextRegularCheckAt } from './backoff.js';

describe('backoffMs', () => {
  it('starts at the base and doubles per failure', () => {
    const none = () => 0;
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 300, none))).toEqual([
      300_000, 600_000, 1_200_000, 2_400_000,
    ]);
    expect(backoffMs(0, 300, none)).toBe(300_000);
  });

  it('is capped at a day, jitter included, even after very many failures', () => {
    for (const failures of [10, 20, 1000]) {
      expect(backoffMs(failures, 300, () => 0)).toBe(MAX_BACKOFF_SECS * 1000);
      expect(backoffMs(failures, 300, () => 0.999)).toBeLessThanOrEqual(MAX_BACKOFF_SECS * 1000);
    }
  });

  it('jitters down by at most 20%', () => {
    expect(backoffMs(1, 100, () => 1)).toBe(80_000);
    for (let i = 0; i < 100; i++) {
      const ms = backoffMs(3, 10);
      expect(ms).toBeGreaterThanOrEqual(32_000);
      expect(ms).toBeLessThanOrEqual(40_000);
    }
  });
});

describe('nextRegularCheckAt', () => {
  it('spreads checks over the interval ±10%', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(nextRegularCheckAt(now, 86_400, () => 0).getTime() - now.getTime()).toBe(77_760_000);
    expect(nextRegularCheckAt(now, 86_400, () => 1).getTime() - now.getTime()).toBe(95_040_000);
  });
});
