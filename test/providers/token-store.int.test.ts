import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.js';
import type { RedisClient } from '../../src/lib/redis.js';
import { RedisTokenStore } from '../../src/providers/token-store.js';
import type { DirectoryProvider, DirectoryUser } from '../../src/providers/types.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { deleteKeys, keysMatching, testRedis } from '../helpers/redis.js';
import { googleCredentials, providerFor, reasonOf, sandboxUrls } from './helpers.js';

const [keyId, keyB64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id: keyId, key: Buffer.from(keyB64, 'base64') }]);
const sealer = {
  seal: (p: string) => keyring.encrypt(p, 'tokens'),
  open: (c: string) => keyring.decrypt(c, 'tokens'),
};

let sb: Sandbox;
let redis: RedisClient;
let users: DirectoryUser[];

beforeAll(async () => {
  sb = await startSandbox({
    seed: 'token-store',
    google: { users: 120, rooms: 2 },
    microsoft: false,
    quotas: false,
  });
  redis = testRedis();
  const probe = providerFor(googleCredentials(sb), sandboxUrls(sb));
  users = (await probe.listUsersPage(null, { pageSize: 100 })).items.filter(
    (u) => !u.suspended && u.hasMailbox,
  );
  await probe.close();
});

afterAll(async () => {
  redis?.disconnect();
  await sb?.close();
});

/** `n` adapters of one Service Account, as `n` worker processes have them, sharing one token store. */
function processes(
  n: number,
  prefix: string,
  opts: { maxCachedSubjects?: number } = {},
): DirectoryProvider[] {
  return Array.from({ length: n }, () =>
    providerFor(googleCredentials(sb), sandboxUrls(sb), {
      tokenStore: new RedisTokenStore(redis, prefix, sealer),
      ...opts,
    }),
  );
}

describe('access tokens shared by every process', () => {
  it('one JWT signature per subject across four processes, however many calls, beyond the local cache size', async () => {
    const prefix = `tok-${randomBytes(4).toString('hex')}`;
    await sb.control.resetCounters();
    // A local cache of 10 subjects: every subject beyond it must come back from the shared store.
    const procs = processes(4, prefix, { maxCachedSubjects: 10 });
    const admin = sb.google?.adminEmail as string;
    const subjects = users.filter((u) => u.email.toLowerCase() !== admin).slice(0, 60);
    for (let round = 0; round < 3; round++) {
      await Promise.all(procs.flatMap((p) => subjects.map((u) => p.listCalendars(u))));
    }
    await Promise.all(procs.map((p) => p.listUsersPage(null, { pageSize: 10 })));
    const { tokensIssued, calls } = await sb.control.counters();
    const calendarCalls = Object.entries(calls)
      .filter(([k]) => k.includes('calendarList') || k.includes('calendar'))
      .reduce((n, [, v]) => n + v, 0);
    expect(calendarCalls).toBeGreaterThanOrEqual(4 * 3 * subjects.length);
    for (const u of subjects) {
      expect(tokensIssued.googleBySubject[u.email.toLowerCase()] ?? 0, u.email).toBe(1);
    }
    expect(tokensIssued.googleBySubject[admin]).toBe(1);
    expect(tokensIssued.google).toBe(subjects.length + 1);
    // Stored encrypted: no access token in clear in Redis.
    const keys = await keysMatching(redis, `${prefix}:tok:*`);
    expect(keys.length).toBe(subjects.length + 1);
    const stored = await redis.get(keys[0] as string);
    expect(stored).not.toContain('ya29.');
    await Promise.all(procs.map((p) => p.close()));
    await deleteKeys(redis, `${prefix}:*`);
  }, 60_000);

  it('a token refused by the API is dropped from the shared store; a fresh one names the cause', async () => {
    const prefix = `tok-${randomBytes(4).toString('hex')}`;
    const [a, b] = processes(2, prefix) as [DirectoryProvider, DirectoryProvider];
    const user = users[70] as DirectoryUser;
    await a.listCalendars(user);
    expect(await reasonOf(b.listCalendars(user))).toBe('resolved');
    await sb.control.updateUser('google', user.email, { suspended: true });
    // b's token (from the store) is refused with 401; b fetches a new one, refused with the reason.
    expect(await reasonOf(b.listCalendars(user))).toBe('user_suspended');
    await sb.control.updateUser('google', user.email, { suspended: false });
    expect(await reasonOf(a.listCalendars(user))).toBe('resolved');
    await a.close();
    await b.close();
  });

  it('delegation withdrawn: one refused call per process, not one per cached subject; tokens after the re-grant work', async () => {
    const prefix = `tok-${randomBytes(4).toString('hex')}`;
    const [a, b] = processes(2, prefix) as [DirectoryProvider, DirectoryProvider];
    // Users only: the admin's token has its own scope set (Directory too), so its own distrust.
    const admin = sb.google?.adminEmail as string;
    const subjects = users.filter((u) => u.email.toLowerCase() !== admin).slice(0, 30);
    for (const u of subjects) {
      await a.listCalendars(u);
      expect(await reasonOf(b.listCalendars(u))).toBe('resolved');
    }
    await sb.control.resetCounters();
    await sb.control.setDelegation({ granted: false });
    try {
      for (const p of [a, b]) {
        for (const u of subjects) {
          expect(await reasonOf(p.listCalendars(u))).toBe('delegation_not_granted');
        }
      }
      const refused = Object.entries((await sb.control.counters()).calls)
        .filter(([k]) => k.endsWith(' 401') && !/\/token\b|\/oauth2\//.test(k))
        .reduce((n, [, v]) => n + v, 0);
      // Each process learns it once, from its first 401 and the refused refetch; the other 29 cached
      // tokens (in the process and in the shared store) are never sent again.
      expect(refused).toBe(2);
    } finally {
      await sb.control.setDelegation({ granted: true });
    }
    for (const p of [a, b]) {
      for (const u of subjects) {
        expect(await reasonOf(p.listCalendars(u))).toBe('resolved');
      }
    }
    await a.close();
    await b.close();
  });

  it('works without Redis: a store that cannot answer is a cache miss, never an error', async () => {
    const dead = testRedis({ lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null });
    dead.disconnect();
    const p = providerFor(googleCredentials(sb), sandboxUrls(sb), {
      tokenStore: new RedisTokenStore(dead, 'tok-dead', sealer),
    });
    const started = Date.now();
    expect(await reasonOf(p.listCalendars(users[80] as DirectoryUser))).toBe('resolved');
    expect(Date.now() - started).toBeLessThan(5_000);
    await p.close();
  });
});
