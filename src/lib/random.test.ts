import { describe, expect, it } from 'vitest';
import { randomBytesPooled } from './random.js';

describe('randomBytesPooled', () => {
  it('hands out distinct bytes across pool refills, each as its own buffer', () => {
    const seen = new Set<string>();
    const first = randomBytesPooled(16);
    const copy = Buffer.from(first);
    for (let i = 0; i < 2_000; i++) {
      const b = randomBytesPooled(16);
      expect(b.length).toBe(16);
      seen.add(b.toString('hex'));
    }
    expect(seen.size).toBe(2_000);
    // Refills (2,000 × 16 bytes is several pools) never change a buffer already handed out.
    expect(first.equals(copy)).toBe(true);
    expect(randomBytesPooled(10_000).length).toBe(10_000);
  });
});
