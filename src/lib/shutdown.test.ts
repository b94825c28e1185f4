import { describe, expect, it } from 'vitest';
import { createShutdown, ShutdownTimeoutError } from './shutdown.js';

describe('createShutdown', () => {
  it('runs closers in reverse order once, bounding those given a timeout and going on past failures', async () => {
    const order: string[] = [];
    const errors: [string, unknown][] = [];
    const s = createShutdown((name, err) => errors.push([name, err]));
    s.onClose('db', async () => {
      order.push('db');
    });
    s.onClose('redis', () => new Promise<void>(() => order.push('redis')), { timeoutMs: 50 });
    s.onClose('broken', async () => {
      order.push('broken');
      throw new Error('boom');
    });
    s.onClose('workers', async () => {
      order.push('workers');
    });
    expect(s.signal.aborted).toBe(false);
    const first = s.close();
    expect(s.signal.aborted).toBe(true);
    const steps = await first;
    expect(order).toEqual(['workers', 'broken', 'redis', 'db']);
    expect(steps.map((x) => [x.name, x.outcome])).toEqual([
      ['workers', 'ok'],
      ['broken', 'failed'],
      ['redis', 'timed_out'],
      ['db', 'ok'],
    ]);
    expect(steps.find((x) => x.name === 'redis')?.ms).toBeGreaterThanOrEqual(45);
    expect(errors.map(([name]) => name)).toEqual(['broken', 'redis']);
    expect(errors[1]?.[1]).toBeInstanceOf(ShutdownTimeoutError);
    // A second close is the same close: nothing runs again.
    expect(await s.close()).toBe(steps);
    expect(order).toHaveLength(4);
  });
});
