import { z } from 'zod';

/** Injected faults, applied to every provider route (never to `/_sandbox`). Shares are 0..1. */
export type FaultConfig = {
  /** Fixed delay before answering. Default 0. */
  latencyMs: number;
  /** Extra uniform random delay in [0, jitterMs). Default 0. */
  jitterMs: number;
  /** Share of requests answered 429 with `Retry-After: retryAfterSecs`. Default 0. */
  rate429: number;
  /** Share answered 500. Default 0. */
  rate500: number;
  /** Share answered 503 (with `Retry-After`). Default 0. */
  rate503: number;
  /** Share held without an answer for `timeoutMs`, then dropped (socket destroyed). Default 0. */
  rateTimeout: number;
  /** `Retry-After` on injected 429/503 and on quota 429s. Default 1. */
  retryAfterSecs: number;
  /** How long a "timeout" request is held before the socket is destroyed. Default 10,000. */
  timeoutMs: number;
  /** Whether the token endpoints get faults too. Default true. */
  tokenEndpoints: boolean;
};

/** Documented provider quotas (providers.md §2.5, §4.5), enforced with 429 + Retry-After. */
export type QuotaConfig = {
  /** Default true. */
  enabled: boolean;
  /** Admin SDK Directory queries per minute (per project). Default 2,400. */
  directoryPerMinute: number;
  /** Calendar API requests per minute per impersonated user. Default 600. */
  calendarPerUserPerMinute: number;
  /** Calendar API requests per minute per project. Default 10,000. */
  calendarPerProjectPerMinute: number;
  /** Graph (Outlook) requests per 10 minutes per app per mailbox. Default 10,000. */
  graphPerMailboxPer10Min: number;
  /** Graph (Outlook) concurrent requests per mailbox. Default 4. */
  graphConcurrentPerMailbox: number;
  /**
   * HTTP status of a Google quota refusal: Directory documents 403 userRateLimitExceeded, Calendar
   * 403 or 429; the issue asks for 429. Default 429.
   */
  googleQuotaStatus: 403 | 429;
};

export const DEFAULT_FAULTS: FaultConfig = {
  latencyMs: 0,
  jitterMs: 0,
  rate429: 0,
  rate500: 0,
  rate503: 0,
  rateTimeout: 0,
  retryAfterSecs: 1,
  timeoutMs: 10_000,
  tokenEndpoints: true,
};

export const DEFAULT_QUOTAS: QuotaConfig = {
  enabled: true,
  directoryPerMinute: 2400,
  calendarPerUserPerMinute: 600,
  calendarPerProjectPerMinute: 10_000,
  graphPerMailboxPer10Min: 10_000,
  graphConcurrentPerMailbox: 4,
  googleQuotaStatus: 429,
};

const share = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(600_000);
const count = z.number().int().min(1).max(10_000_000);

export const faultPatchSchema = z
  .object({
    latencyMs: ms,
    jitterMs: ms,
    rate429: share,
    rate500: share,
    rate503: share,
    rateTimeout: share,
    retryAfterSecs: z.number().min(0).max(3600),
    timeoutMs: ms,
    tokenEndpoints: z.boolean(),
  })
  .partial()
  .strict();

export const quotaPatchSchema = z
  .object({
    enabled: z.boolean(),
    directoryPerMinute: count,
    calendarPerUserPerMinute: count,
    calendarPerProjectPerMinute: count,
    graphPerMailboxPer10Min: count,
    graphConcurrentPerMailbox: count,
    googleQuotaStatus: z.union([z.literal(403), z.literal(429)]),
  })
  .partial()
  .strict();

/** Resolves `SandboxOptions.quotas` (boolean or partial) to a full config. */
export function resolveQuotas(q: boolean | Partial<QuotaConfig> | undefined): QuotaConfig {
  if (q === undefined || q === true) {
    return { ...DEFAULT_QUOTAS };
  }
  if (q === false) {
    return { ...DEFAULT_QUOTAS, enabled: false };
  }
  return { ...DEFAULT_QUOTAS, ...q };
}

/** Injected fault shares must leave room for normal answers. */
export function checkFaultShares(f: FaultConfig): string | undefined {
  const total = f.rate429 + f.rate500 + f.rate503 + f.rateTimeout;
  return total > 1 ? `fault shares add up to ${total}; they must add up to at most 1` : undefined;
}
