import type { Logger } from '../logger.js';
import type { ProviderLimiter } from './limiter.js';
import type { QuotaOverrides } from './quotas.js';
import type { SharedTokenStore } from './token-store.js';

/** The four provider endpoints (DESIGN §4); `Config['providers']` has exactly this shape. */
export type ProviderUrls = {
  googleTokenUrl: string;
  googleApiUrl: string;
  microsoftLoginUrl: string;
  microsoftGraphUrl: string;
};

/** The real providers' endpoints (the defaults of config.ts). */
export const REAL_PROVIDER_URLS: ProviderUrls = {
  googleTokenUrl: 'https://oauth2.googleapis.com/token',
  googleApiUrl: 'https://admin.googleapis.com',
  microsoftLoginUrl: 'https://login.microsoftonline.com',
  microsoftGraphUrl: 'https://graph.microsoft.com',
};

/** One request made to a provider: `outcome` is `ok` or the ProviderError reason. */
export type ProviderCallEvent = {
  provider: string;
  api: string;
  op: string;
  outcome: string;
  durationMs: number;
};

/** What an adapter needs besides the credential. */
export type ProviderRuntime = {
  urls: ProviderUrls;
  limiter: ProviderLimiter;
  logger: Logger;
  /** The Service Account (`ser_…`) the credential belongs to: quotas are counted per Service Account. */
  serviceAccountId: string;
  quotaOverrides?: QuotaOverrides | undefined;
  /** Timeout of each provider request (token requests included). Default 30,000 ms. */
  timeoutMs?: number | undefined;
  /**
   * When a provider answers 429 (or Google's 403 rate-limit reasons) despite the limiter, the call is
   * retried after `Retry-After` at most this many times... Default 3.
   */
  rateLimitRetries?: number | undefined;
  /** ...as long as the total wait stays under this; otherwise `rate_limited` is thrown. Default 15,000 ms. */
  rateLimitMaxWaitMs?: number | undefined;
  /** Google: access tokens (plain values) kept per Service Account in this process, least recently used evicted. Default 20,000. */
  maxCachedSubjects?: number | undefined;
  /** Access tokens shared by every process (Redis); without it each process fetches its own. */
  tokenStore?: SharedTokenStore | undefined;
  /** Told about every request made to the provider (metrics); must not throw. */
  onCall?: ((event: ProviderCallEvent) => void) | undefined;
  /**
   * Microsoft: mailbox reads sent together in one Graph JSON batch, at most (1 = each on its own).
   * Default 4: Graph runs at most four of a batch's Outlook requests at once, so a larger batch waits
   * inside Graph, several provider latencies per call, where latency binds.
   */
  graphBatchSize?: number | undefined;
  /**
   * When mailbox reads go in batches: `always`, or `when-busy`, only while the machine's CPUs are
   * short (cpuShortage): a batch answers once its slowest request has, so each call in it waits
   * for the slowest of its batch's latencies; batching is worth that only when the round trips it
   * saves are what the machine is short of. Or a function deciding it at each read. Default `always`.
   */
  graphBatching?: GraphBatching | (() => boolean) | undefined;
};

export type GraphBatching = 'when-busy' | 'always';

export type ResolvedRuntime = {
  urls: ProviderUrls;
  limiter: ProviderLimiter;
  logger: Logger;
  serviceAccountId: string;
  quotaOverrides: QuotaOverrides | undefined;
  timeoutMs: number;
  rateLimitRetries: number;
  rateLimitMaxWaitMs: number;
  maxCachedSubjects: number;
  tokenStore: SharedTokenStore | undefined;
  onCall: ((event: ProviderCallEvent) => void) | undefined;
  graphBatchSize: number;
  graphBatching: GraphBatching | (() => boolean);
};

export function resolveRuntime(rt: ProviderRuntime): ResolvedRuntime {
  return {
    urls: rt.urls,
    limiter: rt.limiter,
    logger: rt.logger,
    serviceAccountId: rt.serviceAccountId,
    quotaOverrides: rt.quotaOverrides,
    timeoutMs: rt.timeoutMs ?? 30_000,
    rateLimitRetries: rt.rateLimitRetries ?? 3,
    rateLimitMaxWaitMs: rt.rateLimitMaxWaitMs ?? 15_000,
    maxCachedSubjects: rt.maxCachedSubjects ?? 20_000,
    tokenStore: rt.tokenStore,
    onCall: rt.onCall,
    graphBatchSize: rt.graphBatchSize ?? 4,
    graphBatching: rt.graphBatching ?? 'always',
  };
}
