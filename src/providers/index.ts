import { LruMap } from '../lib/lru.js';
import { FakeDirectoryProvider } from './fake/index.js';
import { GoogleDirectoryProvider } from './google/index.js';
import { GooglePermissionProbe } from './google/probe.js';
import { MicrosoftDirectoryProvider } from './microsoft/index.js';
import { MicrosoftPermissionProbe } from './microsoft/probe.js';
import type { PermissionProbe } from './probe.js';
import { type ProviderRuntime, resolveRuntime } from './runtime.js';
import type { DirectoryProvider, ServiceCredentials } from './types.js';

export { FakeDirectoryProvider } from './fake/index.js';
export {
  type LimiterStats,
  type LimitRequest,
  NoopLimiter,
  type Permit,
  type ProviderLimiter,
  type RedisLimiterOptions,
  RedisProviderLimiter,
  type WaitEvent,
} from './limiter.js';
export { DEFAULT_QUOTAS, QUOTA_NAMES, type QuotaName, type QuotaOverrides } from './quotas.js';
export { type ProviderRuntime, type ProviderUrls, REAL_PROVIDER_URLS } from './runtime.js';

/**
 * The adapter for a credential. Cheap to create (no network); tokens are fetched on first use and
 * cached inside the instance, so keep it for as long as the credential is in use (see
 * ProviderRegistry) and `close()` it afterwards.
 */
export function createDirectoryProvider(
  credentials: ServiceCredentials,
  runtime: ProviderRuntime,
): DirectoryProvider {
  const rt = resolveRuntime(runtime);
  switch (credentials.provider) {
    case 'google':
      return new GoogleDirectoryProvider(credentials, rt);
    case 'microsoft':
      return new MicrosoftDirectoryProvider(credentials, rt);
  }
}

export type ProviderRegistryOptions = Omit<ProviderRuntime, 'serviceAccountId' | 'quotaOverrides'> & {
  /** Provider instances (each holding its cached tokens) kept; least recently used closed. Default 200. */
  maxEntries?: number;
};

/**
 * One provider instance per Service Account per process, so a worker re-uses clients and tokens
 * across jobs. An entry is keyed by the Service Account, its stored (encrypted) credential and its
 * quota overrides: a changed credential gets a fresh instance and the old one is closed.
 */
export class ProviderRegistry {
  private readonly entries: LruMap<string, { fingerprint: string; provider: DirectoryProvider }>;

  constructor(private readonly opts: ProviderRegistryOptions) {
    this.entries = new LruMap(opts.maxEntries ?? 200, (e) => {
      e.provider.close().catch(() => {});
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The Service Account's instance, from its credential as stored (encrypted): the ciphertext itself
   * is the fingerprint, so a hit costs neither the decryption nor a hash; `open` decrypts only for a
   * new instance.
   */
  getSealed(
    serviceAccountId: string,
    sealed: string,
    open: () => ServiceCredentials,
    quotaOverrides?: ProviderRuntime['quotaOverrides'],
  ): DirectoryProvider {
    const fingerprint = `${sealed}:${quotaOverrides ? JSON.stringify(quotaOverrides) : ''}`;
    const hit = this.entries.get(serviceAccountId);
    if (hit && hit.fingerprint === fingerprint) {
      return hit.provider;
    }
    const creds = open();
    const { maxEntries: _max, ...runtime } = this.opts;
    const provider = createDirectoryProvider(creds, {
      ...runtime,
      serviceAccountId,
      logger: this.opts.logger.child({ serviceAccountId, provider: creds.provider }),
      quotaOverrides,
    });
    this.entries.set(serviceAccountId, { fingerprint, provider });
    return provider;
  }

  /** Closes and forgets a Service Account's instance (deleted or credentials revoked). */
  evict(serviceAccountId: string): void {
    this.entries.delete(serviceAccountId);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.entries.drain().map((e) => e.provider.close()));
  }
}

/** A fake for a credential, for tests that need the factory's shape without a provider. */
export function createFakeProvider(
  provider: ServiceCredentials['provider'] = 'google',
): FakeDirectoryProvider {
  return new FakeDirectoryProvider({ provider });
}

/** The live permission check for a credential (one run per `ec doctor` / diagnostics request). */
export function createPermissionProbe(
  credentials: ServiceCredentials,
  runtime: ProviderRuntime,
): PermissionProbe {
  const rt = resolveRuntime(runtime);
  return credentials.provider === 'google'
    ? new GooglePermissionProbe(credentials, rt)
    : new MicrosoftPermissionProbe(credentials, rt);
}
