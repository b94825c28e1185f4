import { describe, expect, it } from 'vitest';
import { DEFAULT_QUOTAS, planWindows, QUOTA_NAMES, resolveQuota } from './quotas.js';

/** The most calls a plan lets into any sliding window of `durationSecs`, in the worst case. */
function worstCase(plan: { points: number; windowSecs: number }, durationSecs: number): number {
  return plan.points * (Math.ceil(durationSecs / plan.windowSecs) + 1);
}

describe('planWindows', () => {
  it('never lets more than the margin of any default quota into a sliding window', () => {
    for (const name of QUOTA_NAMES.filter((n) => n !== 'microsoft.mailbox.concurrent')) {
      const limit = DEFAULT_QUOTAS[name];
      const plan = planWindows(limit);
      expect(worstCase(plan, limit.durationSecs)).toBeLessThanOrEqual(Math.floor(limit.points * 0.95));
      // And keeps most of the quota usable at a steady rate.
      expect(plan.perSecond * limit.durationSecs).toBeGreaterThan(limit.points * 0.75);
    }
  });

  it('handles small test quotas with longer windows', () => {
    const plan = planWindows({ points: 60, durationSecs: 60 });
    expect(plan.points).toBeGreaterThanOrEqual(1);
    expect(worstCase(plan, 60)).toBeLessThanOrEqual(57);
  });

  it('still admits one call per window for a tiny quota', () => {
    const plan = planWindows({ points: 1, durationSecs: 10 });
    expect(plan).toMatchObject({ points: 1 });
    expect(plan.windowSecs).toBeGreaterThan(10);
  });
});

describe('resolveQuota', () => {
  it('applies overrides field by field', () => {
    expect(resolveQuota('google.directory', { 'google.directory': { points: 100 } })).toEqual({
      points: 100,
      durationSecs: 60,
    });
    expect(resolveQuota('microsoft.mailbox', undefined)).toEqual(DEFAULT_QUOTAS['microsoft.mailbox']);
  });

  it('refuses a quota below one call', () => {
    expect(() => resolveQuota('google.directory', { 'google.directory': { points: 0 } })).toThrow(RangeError);
  });
});
