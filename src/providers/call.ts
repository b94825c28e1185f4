import { isAppError, RateLimitedError } from '../errors.js';
import { tallyCall } from '../lib/call-tally.js';
import type { ProviderApi } from './quotas.js';
import type { ResolvedRuntime } from './runtime.js';
import { callSignal, sleep } from './signals.js';
import {
  isProviderError,
  ProviderError,
  type ProviderFailure,
  type ProviderName,
  ProviderRateLimitedError,
} from './types.js';

export type CallSpec = {
  provider: ProviderName;
  api: ProviderApi;
  /** Google: the impersonated subject (Calendar); Microsoft: the mailbox (Outlook calls). */
  mailbox?: string;
  /** Short operation name for logs, e.g. `users.list`. */
  op: string;
};

/**
 * One provider call, the way every adapter makes it: take a permit from the shared limiter, run
 * the request with a timeout and the caller's signal, map any failure to a ProviderFailure. A provider
 * 429 is waited out in-process within a small budget (Retry-After honoured), because the SDKs' own
 * retries are switched off; past the budget the caller gets a ProviderRateLimitedError with
 * `retryAfterMs` and the queue delays the job. Every other error is thrown at once: the queue owns
 * the retry policy.
 */
export async function callProvider<T>(
  rt: ResolvedRuntime,
  spec: CallSpec,
  signal: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
  toError: (err: unknown) => ProviderFailure,
): Promise<T> {
  let retries = 0;
  let waitedMs = 0;
  for (;;) {
    const permit = await rt.limiter
      .acquire({
        serviceAccountId: rt.serviceAccountId,
        api: spec.api,
        ...(spec.mailbox === undefined ? {} : { mailbox: spec.mailbox }),
        overrides: rt.quotaOverrides,
        signal,
      })
      .catch((err: unknown) => {
        throw toProviderError(spec, err, toError);
      });
    const started = performance.now();
    const attempt = callSignal(signal, rt.timeoutMs);
    try {
      const result = await run(attempt.signal);
      report(rt, spec, 'ok', started, signal);
      return result;
    } catch (err) {
      const mapped = toProviderError(spec, err, toError);
      report(rt, spec, mapped.reason, started, signal);
      if (!(mapped instanceof RateLimitedError) || retries >= rt.rateLimitRetries || signal?.aborted) {
        throw mapped;
      }
      const waitMs = mapped.retryAfterMs;
      if (waitedMs + waitMs > rt.rateLimitMaxWaitMs) {
        throw mapped;
      }
      rt.logger.warn(
        { provider: spec.provider, api: spec.api, op: spec.op, retryAfterMs: waitMs, attempt: retries + 1 },
        'provider rate limited the call; waiting before trying again',
      );
      retries += 1;
      waitedMs += waitMs;
      await sleep(waitMs + Math.floor(Math.random() * 100), signal).catch(() => {
        throw mapped;
      });
    } finally {
      attempt.done();
      // Not waited for: the answer is the caller's now, and the slot frees a Redis round trip later.
      void permit.release().catch(() => {});
    }
  }
}

function report(
  rt: ResolvedRuntime,
  spec: CallSpec,
  outcome: string,
  started: number,
  signal: AbortSignal | undefined,
): void {
  tallyCall(spec.api, signal);
  rt.onCall?.({
    provider: spec.provider,
    api: spec.api,
    op: spec.op,
    outcome,
    durationMs: performance.now() - started,
  });
}

function toProviderError(
  spec: CallSpec,
  err: unknown,
  toError: (err: unknown) => ProviderFailure,
): ProviderFailure {
  if (isProviderError(err)) {
    return err;
  }
  if (err instanceof RateLimitedError) {
    // The quota limiter's refusal, named after the provider it protects.
    return new ProviderRateLimitedError(spec.provider, err.retryAfterMs, err.message, { cause: err });
  }
  if (isAppError(err)) {
    return new ProviderError(spec.provider, 'provider_unavailable', err.message, { cause: err });
  }
  return toError(err);
}
