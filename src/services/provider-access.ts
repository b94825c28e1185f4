import { aadOf } from '../db/queries/encrypted-columns.js';
import type { Keyring } from '../lib/crypto.js';
import type { RedisClient } from '../lib/redis.js';
import type { Logger } from '../logger.js';
import { createDirectoryProvider, createPermissionProbe, ProviderRegistry } from '../providers/index.js';
import { type ProviderLimiter, RedisProviderLimiter, type WaitEvent } from '../providers/limiter.js';
import type { GraphBatching, ProviderCallEvent, ProviderUrls } from '../providers/runtime.js';
import { RedisTokenStore } from '../providers/token-store.js';
import type { ServiceCredentials } from '../providers/types.js';
import type { ProviderAccess } from './context.js';

/** The associated data of access tokens cached in Redis (not a column: one place for all of them). */
const TOKEN_CACHE_AAD = 'redis.provider_tokens';

/**
 * Provider clients for Service Accounts: one per Service Account per process (the registry keeps
 * tokens cached and closes the least recently used), all sharing the Redis-backed limiter so quotas
 * hold across every worker process.
 */
export function createProviderAccess(opts: {
  urls: ProviderUrls;
  /** Microsoft mailbox reads per Graph JSON batch, at most (default 4; 1: none). */
  graphBatchSize?: number;
  /** When they are batched (default `always`; the product's default is `when-busy`). */
  graphBatching?: GraphBatching;
  redis: RedisClient;
  keyPrefix: string;
  keyring: Keyring;
  logger: Logger;
  limiter?: ProviderLimiter;
  /** Told about every provider request (metrics). */
  onCall?: (event: ProviderCallEvent) => void;
  /** Told about every wait on the shared limiter (metrics). */
  onWait?: (event: WaitEvent) => void;
}): ProviderAccess & { limiter: ProviderLimiter } {
  const limiter =
    opts.limiter ??
    new RedisProviderLimiter({
      redis: opts.redis,
      keyPrefix: `${opts.keyPrefix}:quota`,
      ...(opts.onWait ? { onWait: opts.onWait } : {}),
    });
  const keyring = opts.keyring;
  // Access tokens shared by every process, encrypted under the keyring. A live check of a credential
  // (forCredentials) never uses it: it must prove the credential works now.
  const tokenStore = new RedisTokenStore(opts.redis, opts.keyPrefix, {
    seal: (plain) => keyring.encrypt(plain, TOKEN_CACHE_AAD),
    open: (sealed) => keyring.decrypt(sealed, TOKEN_CACHE_AAD),
  });
  const registry = new ProviderRegistry({
    urls: opts.urls,
    graphBatchSize: opts.graphBatchSize,
    graphBatching: opts.graphBatching,
    limiter,
    tokenStore,
    logger: opts.logger,
    onCall: opts.onCall,
  });
  return {
    limiter,
    forServiceAccount: (sa) =>
      registry.getSealed(
        sa.id,
        sa.credentialsEncrypted,
        () =>
          JSON.parse(
            opts.keyring.decrypt(sa.credentialsEncrypted, aadOf('service_accounts', sa.id)),
          ) as ServiceCredentials,
        sa.quotaOverrides,
      ),
    forCredentials: (credentials) =>
      createDirectoryProvider(credentials, {
        urls: opts.urls,
        limiter,
        logger: opts.logger.child({ provider: credentials.provider }),
        serviceAccountId: `verify-${credentials.provider}-${credentials.domain}`,
        onCall: opts.onCall,
      }),
    probe: (credentials, serviceAccountId) =>
      createPermissionProbe(credentials, {
        urls: opts.urls,
        limiter,
        logger: opts.logger.child({ provider: credentials.provider, serviceAccountId }),
        serviceAccountId,
        onCall: opts.onCall,
      }),
    evict: (serviceAccountId) => registry.evict(serviceAccountId),
    close: () => registry.close(),
  };
}
