import { describe, expect, it } from 'vitest';
import { abortable, callSignal, isAbortOrTimeout, parseRetryAfter, sleep } from './signals.js';

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

describe('callSignal', () => {
  it('aborts with a TimeoutError after its time, and follows the caller’s signal before that', async () => {
    const timed = callSignal(undefined, 20);
    await new Promise((r) => setTimeout(r, 60));
    expect(timed.signal.aborted).toBe(true);
    expect((timed.signal.reason as Error).name).toBe('TimeoutError');
    expect(isAbortOrTimeout(timed.signal.reason)).toBe(true);

    const caller = new AbortController();
    const followed = callSignal(caller.signal, 10_000);
    caller.abort(new Error('job cancelled'));
    expect(followed.signal.aborted).toBe(true);
    expect((followed.signal.reason as Error).message).toBe('job cancelled');
    followed.done();

    const gone = new AbortController();
    gone.abort(new Error('already'));
    expect(callSignal(gone.signal, 10_000).signal.reason).toBe(gone.signal.reason);
  });

  it('done() ends it: no later timeout, no listener left on the caller’s signal', async () => {
    const caller = new AbortController();
    const call = callSignal(caller.signal, 20);
    call.done();
    await new Promise((r) => setTimeout(r, 60));
    caller.abort();
    expect(call.signal.aborted).toBe(false);
  });
});
