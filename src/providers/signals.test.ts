import { describe, expect, it } from 'vitest';
import { abortable, isAbortOrTimeout, parseRetryAfter, sleep } from './signals.js';

describe('parseRetryAfter', () => {
  it('reads seconds, fractional seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('2.128')).toBe(2128);
    expect(parseRetryAfter('0')).toBe(0);
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:05 GMT', now)).toBe(5000);
  });

  it('is undefined when absent or unreadable', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('sleep and abortable', () => {
  it('stops waiting when the signal aborts', async () => {
    const ctrl = new AbortController();
    const p = sleep(10_000, ctrl.signal);
    ctrl.abort();
    await expect(p).rejects.toSatisfy(isAbortOrTimeout);
    const never = new Promise<never>(() => {});
    const ctrl2 = new AbortController();
    const q = abortable(never, ctrl2.signal);
    ctrl2.abort(new DOMException('late', 'TimeoutError'));
    await expect(q).rejects.toSatisfy(isAbortOrTimeout);
  });

  it('passes values through', async () => {
    await expect(abortable(Promise.resolve(3), new AbortController().signal)).resolves.toBe(3);
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
