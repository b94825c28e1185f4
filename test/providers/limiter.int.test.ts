import { afterAll, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/errors.js';
import type { RedisClient } from '../../src/lib/redis.js';
import { RedisProviderLimiter, type WaitEvent } from '../../src/providers/limiter.js';
import { keysMatching, testRedis, useRedisPrefix } from '../helpers/redis.js';

const prefix = useRedisPrefix();
const clients: RedisClient[] = [];

function redis(): RedisClient {
  const r = testRedis();
  clients.push(r);
  return r;
}

afterAll(() => {
  for (const c of clients) {
    c.disconnect();
  }
});

describe('RedisProviderLimiter', () => {
  it('spreads calls over short windows, waits for room, and reports the waits', async () => {
    const waits: WaitEvent[] = [];
    const limiter = new RedisProviderLimiter({
      redis: redis(),
      keyPrefix: `${prefix}:a`,
      onWait: (e) => waits.push(e),
    });
    // 10 per 2 s at 95 %: 3 per 1 s window.
    const overrides = { 'google.directory': { points: 10, durationSecs: 2 } };
    const t0 = Date.now();
    for (let i = 0; i < 7; i++) {
      const permit = await limiter.acquire({ serviceAccountId: 'ser_a', api: 'google.directory', overrides });
      await permit.release();
    }
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(4000);
    const stats = limiter.stats();
    expect(stats.acquired).toBe(7);
    expect(stats.waited).toBeGreaterThanOrEqual(2);
    expect(stats.byQuota['google.directory']?.waitedMs).toBeGreaterThan(1000);
    expect(waits.every((w) => w.quota === 'google.directory' && w.serviceAccountId === 'ser_a')).toBe(true);
  });

  it('is shared by limiters on different connections and counts per Service Account', async () => {
    const a = new RedisProviderLimiter({ redis: redis(), keyPrefix: `${prefix}:b`, maxWaitMs: 100 });
    const b = new RedisProviderLimiter({ redis: redis(), keyPrefix: `${prefix}:b`, maxWaitMs: 100 });
    const overrides = { 'google.directory': { points: 3, durationSecs: 60 } };
    // 3 per minute at 95 % leaves 2, spread so that at most one call lands per window.
    await a.acquire({ serviceAccountId: 'ser_b', api: 'google.directory', overrides });
    await expect(
      b.acquire({ serviceAccountId: 'ser_b', api: 'google.directory', overrides }),
    ).rejects.toBeInstanceOf(RateLimitedError);
    // Another Service Account has its own quota.
    await b.acquire({ serviceAccountId: 'ser_other', api: 'google.directory', overrides });
  });

  it('throws RateLimitedError with retryAfterMs rather than waiting past maxWaitMs', async () => {
    const limiter = new RedisProviderLimiter({ redis: redis(), keyPrefix: `${prefix}:c`, maxWaitMs: 200 });
    const overrides = { 'google.calendar.user': { points: 2, durationSecs: 30 } };
    await limiter.acquire({
      serviceAccountId: 'ser_c',
      api: 'google.calendar',
      mailbox: 'A@x.com',
      overrides,
    });
    const err = await limiter
      .acquire({ serviceAccountId: 'ser_c', api: 'google.calendar', mailbox: 'a@X.com', overrides })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBeGreaterThan(200);
    expect(limiter.stats().refused).toBe(1);
    // Per user: another mailbox is not affected.
    await limiter.acquire({
      serviceAccountId: 'ser_c',
      api: 'google.calendar',
      mailbox: 'b@x.com',
      overrides,
    });
  });

  it('holds at most N concurrent Microsoft calls per mailbox, and frees a crashed holder after the lease', async () => {
    const limiter = new RedisProviderLimiter({ redis: redis(), keyPrefix: `${prefix}:d`, maxWaitMs: 5000 });
    const overrides = { 'microsoft.mailbox.concurrent': { points: 2, durationSecs: 1 } };
    const req = {
      serviceAccountId: 'ser_d',
      api: 'microsoft.mailbox' as const,
      mailbox: 'room@x.com',
      overrides,
    };
    const p1 = await limiter.acquire(req);
    await limiter.acquire(req); // never released: a process that died mid-call
    let third = false;
    const pending = limiter.acquire(req).then((p) => {
      third = true;
      return p;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(third).toBe(false);
    await p1.release();
    const p3 = await pending;
    expect(third).toBe(true);
    // Both slots are now held (the leaked one and p3); the leaked one expires after its 1 s lease.
    const t0 = Date.now();
    const p4 = await limiter.acquire(req);
    expect(Date.now() - t0).toBeGreaterThan(500);
    await p3.release();
    await p4.release();
    await p4.release(); // idempotent
    expect(limiter.stats().byQuota['microsoft.mailbox.concurrent']?.waits).toBeGreaterThanOrEqual(2);
  });

  it('gives back points taken for a call that never happens', async () => {
    const limiter = new RedisProviderLimiter({ redis: redis(), keyPrefix: `${prefix}:e`, maxWaitMs: 50 });
    const overrides = {
      'google.calendar.user': { points: 1000, durationSecs: 60 },
      'google.calendar.project': { points: 2, durationSecs: 60 },
    };
    const req = { serviceAccountId: 'ser_e', api: 'google.calendar' as const, mailbox: 'u@x.com', overrides };
    await limiter.acquire(req);
    await expect(limiter.acquire(req)).rejects.toBeInstanceOf(RateLimitedError);
    // The per-user point of the refused acquire was returned.
    const client = clients[0] as RedisClient;
    const keys = await keysMatching(client, `${prefix}:e:google.calendar.user:*`);
    const values = await Promise.all(keys.map((k) => client.get(k)));
    expect(values.map(Number)).toEqual([1]);
  });

  it('stops waiting when the signal aborts', async () => {
    const limiter = new RedisProviderLimiter({ redis: redis(), keyPrefix: `${prefix}:f`, maxWaitMs: 10_000 });
    const overrides = { 'google.directory': { points: 1, durationSecs: 5 } };
    await limiter.acquire({ serviceAccountId: 'ser_f', api: 'google.directory', overrides });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 100);
    const t0 = Date.now();
    await expect(
      limiter.acquire({ serviceAccountId: 'ser_f', api: 'google.directory', overrides, signal: ctrl.signal }),
    ).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
