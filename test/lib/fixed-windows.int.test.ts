import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchedWindows, MemoryWindows, takeFromWindows } from '../../src/lib/fixed-windows.js';
import { testRedis, useRedisPrefix } from '../helpers/redis.js';

const prefix = useRedisPrefix();
const redis = testRedis();
afterAll(() => redis.disconnect());

const windowsOf = (name: string, second: number, minute: number) => [
  { key: `${prefix}:${name}:s`, points: second, ms: 1_000 },
  { key: `${prefix}:${name}:m`, points: minute, ms: 60_000 },
];

describe('BatchedWindows (the API limit)', () => {
  it('counts every request in both windows, refused or not, and names the window that refused', async () => {
    const counter = new BatchedWindows(redis, { flushMs: 5 });
    const windows = windowsOf('count', 2, 3);
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await counter.count(windows));
    }
    expect(answers.slice(0, 2).map((a) => a.blocked)).toEqual([0, 0]);
    // The third is past the per-second window; the minute window (3) is not yet exceeded.
    expect(answers[2]?.blocked).toBe(1);
    expect(answers[2]?.waitMs).toBeGreaterThan(0);
    expect(answers[2]?.waitMs).toBeLessThanOrEqual(1_000);
    // Past both: the one that frees up last (the minute) is named.
    expect(answers[4]?.blocked).toBe(2);
    expect(answers[4]?.waitMs).toBeGreaterThan(50_000);
    await counter.flush();
    expect(await redis.get(`${prefix}:count:m`)).toBe('5');
    const ttl = await redis.pttl(`${prefix}:count:m`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    counter.close();
  });

  it('shares the count between processes: what one sent, the other sees at its next window', async () => {
    const other = testRedis();
    const a = new BatchedWindows(redis, { flushMs: 5 });
    const b = new BatchedWindows(other, { flushMs: 5 });
    const windows = [{ key: `${prefix}:shared:m`, points: 4, ms: 60_000 }];
    try {
      expect(
        [await a.count(windows), await a.count(windows), await a.count(windows)].map((x) => x.blocked),
      ).toEqual([0, 0, 0]);
      await a.flush();
      // b's first request in this window asks Redis: 3 counted by a, then its own (4): allowed; the next is not.
      expect((await b.count(windows)).blocked).toBe(0);
      expect((await b.count(windows)).blocked).toBe(1);
      await b.flush();
      expect(await redis.get(`${prefix}:shared:m`)).toBe('5');
      // a learns b's count with its next send and refuses too.
      await a.count(windows);
      await a.flush();
      expect((await a.count(windows)).blocked).toBe(1);
    } finally {
      a.close();
      b.close();
      other.disconnect();
    }
  });

  it('starts a new window once one ends, and throws when Redis cannot take a first count', async () => {
    const counter = new BatchedWindows(redis, { flushMs: 5 });
    const windows = [{ key: `${prefix}:ends:s`, points: 1, ms: 200 }];
    expect((await counter.count(windows)).blocked).toBe(0);
    expect((await counter.count(windows)).blocked).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    expect((await counter.count(windows)).blocked).toBe(0);
    // A counter left without expiry gets one, so it cannot refuse forever.
    await redis.set(`${prefix}:stuck:s`, '10');
    expect((await counter.count([{ key: `${prefix}:stuck:s`, points: 2, ms: 1_000 }])).blocked).toBe(1);
    expect(await redis.pttl(`${prefix}:stuck:s`)).toBeGreaterThan(0);
    counter.close();
    const gone = testRedis({ lazyConnect: true, enableOfflineQueue: false });
    const offline = new BatchedWindows(gone);
    await expect(offline.count([{ key: `${prefix}:gone:s`, points: 5, ms: 1_000 }])).rejects.toThrow();
    offline.close();
    gone.disconnect();
  });
});

describe('takeFromWindows (provider quotas)', () => {
  it('takes a point of every window only when each has room, else nothing', async () => {
    const windows = windowsOf('take', 10, 2);
    expect((await takeFromWindows(redis, windows)).blocked).toBe(0);
    expect((await takeFromWindows(redis, windows)).blocked).toBe(0);
    const refused = await takeFromWindows(redis, windows);
    expect(refused.blocked).toBe(2);
    expect(refused.waitMs).toBeGreaterThan(50_000);
    // The refused attempt took nothing from the window that had room.
    expect([await redis.get(`${prefix}:take:s`), await redis.get(`${prefix}:take:m`)]).toEqual(['2', '2']);
  });

  it('holds at most `limit` leases, frees them by id or by expiry, and takes no point while refused', async () => {
    const windows = [{ key: `${prefix}:lease:w`, points: 100, ms: 60_000 }];
    const lease = (id: string) => ({ key: `${prefix}:lease:l`, limit: 2, leaseMs: 300, id });
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    expect((await takeFromWindows(redis, windows, lease(a))).blocked).toBe(0);
    expect((await takeFromWindows(redis, windows, lease(b))).blocked).toBe(0);
    const full = await takeFromWindows(redis, windows, lease(c));
    expect(full.blocked).toBe(2);
    expect(full.waitMs).toBeGreaterThan(0);
    expect(full.waitMs).toBeLessThanOrEqual(300);
    expect(await redis.get(`${prefix}:lease:w`)).toBe('2');
    await redis.zrem(`${prefix}:lease:l`, a);
    expect((await takeFromWindows(redis, windows, lease(c))).blocked).toBe(0);
    // b and c are never given back: after their lease they no longer count.
    await new Promise((r) => setTimeout(r, 350));
    expect((await takeFromWindows(redis, windows, lease(randomUUID()))).blocked).toBe(0);
    expect(await redis.get(`${prefix}:lease:w`)).toBe('4');
  });
});

describe('MemoryWindows (when Redis cannot answer)', () => {
  it('counts as the script does, per window, and starts a window afresh once it ends', async () => {
    const memory = new MemoryWindows();
    const windows = [
      { key: 'a:s', points: 2, ms: 100 },
      { key: 'a:m', points: 4, ms: 60_000 },
    ];
    expect([0, 1, 2].map(() => memory.count(windows).blocked)).toEqual([0, 0, 1]);
    await new Promise((r) => setTimeout(r, 120));
    // The second window is not over: its fifth request is refused, and every one after.
    expect([0, 1, 2].map(() => memory.count(windows).blocked)).toEqual([0, 2, 2]);
    const last = memory.count(windows);
    expect(last.waitMs).toBeGreaterThan(50_000);
  });

  it('stays bounded: past its size it drops ended windows, then everything', () => {
    const memory = new MemoryWindows(3);
    for (let i = 0; i < 10; i++) {
      expect(memory.count([{ key: `k${i}`, points: 1, ms: 60_000 }]).blocked).toBe(0);
    }
    // k9 was counted after the last clear, so it is still full.
    expect(memory.count([{ key: 'k9', points: 1, ms: 60_000 }]).blocked).toBe(1);
  });
});
