import { createHash } from 'node:crypto';
import { withDeadline } from '../lib/deadline.js';
import type { RedisClient } from '../lib/redis.js';

/** An access token, when it stops working and when it was issued (epoch ms). */
export type CachedToken = { token: string; expiresAt: number; issuedAt?: number };

/**
 * Access tokens shared by every process of a deployment, so one impersonated subject costs one token
 * request (one JWT signature) per token lifetime however many workers, API processes and checks use it.
 * Every operation is best effort: a store that fails or is slow is a cache miss, never an error.
 */
export interface SharedTokenStore {
  /** The token, or, when there is none, whether this caller won the right to fetch it (others wait). */
  getOrClaim(key: string, claimMs: number): Promise<CachedToken | 'claimed' | 'busy'>;
  get(key: string): Promise<CachedToken | undefined>;
  set(key: string, value: CachedToken): Promise<void>;
  delete(key: string): Promise<void>;
}

/** A key naming what the token is good for, never containing the subject or the credential in clear. */
export function tokenKey(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('base64url');
}

/** One round trip: the value, or a claim (SET NX PX) on the lock key when there is none. */
const GET_OR_CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then return v end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return '' end
return false`;

/** How long one store operation may take before it counts as a miss. */
const STORE_DEADLINE_MS = 500;

type Sealer = { seal(plain: string): string; open(sealed: string): string };

/**
 * Tokens in Redis, encrypted (AES-256-GCM under the deployment's keyring, via `sealer`), each expiring
 * with the token itself. Keys `<prefix>:tok:<hash>` and `<prefix>:tok-claim:<hash>` share the prefix's
 * hash tag, so the script's two keys are in one Cluster slot.
 */
export class RedisTokenStore implements SharedTokenStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly sealer: Sealer,
  ) {}

  async getOrClaim(key: string, claimMs: number): Promise<CachedToken | 'claimed' | 'busy'> {
    const raw = await this.bounded(
      this.redis.eval(GET_OR_CLAIM, 2, this.valueKey(key), this.claimKey(key), String(claimMs)),
    );
    if (raw === '') {
      return 'claimed';
    }
    if (typeof raw === 'string') {
      return this.decode(raw) ?? 'claimed';
    }
    // No answer (Redis away) counts as a claim: fetch it ourselves.
    return raw === null ? 'busy' : 'claimed';
  }

  async get(key: string): Promise<CachedToken | undefined> {
    const raw = await this.bounded(this.redis.get(this.valueKey(key)));
    return typeof raw === 'string' ? this.decode(raw) : undefined;
  }

  async set(key: string, value: CachedToken): Promise<void> {
    const ttl = value.expiresAt - Date.now();
    if (ttl <= 1_000) {
      return;
    }
    const sealed = this.sealer.seal(JSON.stringify(value));
    await this.bounded(this.redis.set(this.valueKey(key), sealed, 'PX', ttl));
  }

  async delete(key: string): Promise<void> {
    await this.bounded(this.redis.del(this.valueKey(key), this.claimKey(key)));
  }

  private valueKey(key: string): string {
    return `${this.prefix}:tok:${key}`;
  }

  private claimKey(key: string): string {
    return `${this.prefix}:tok-claim:${key}`;
  }

  /** The command's answer, `undefined` when it failed or took too long; `null` for Redis's nil. */
  private async bounded(work: Promise<unknown>): Promise<unknown> {
    try {
      const v = await withDeadline(work, STORE_DEADLINE_MS, () => new Error('token store timeout'));
      return v === null ? null : v;
    } catch {
      return undefined;
    }
  }

  private decode(raw: string): CachedToken | undefined {
    try {
      const v = JSON.parse(this.sealer.open(raw)) as Partial<CachedToken>;
      if (typeof v.token !== 'string' || !v.token || typeof v.expiresAt !== 'number') {
        return undefined;
      }
      return typeof v.issuedAt === 'number'
        ? { token: v.token, expiresAt: v.expiresAt, issuedAt: v.issuedAt }
        : { token: v.token, expiresAt: v.expiresAt };
    } catch {
      // Written under a key no longer in the keyring, or damaged: a miss.
      return undefined;
    }
  }
}
