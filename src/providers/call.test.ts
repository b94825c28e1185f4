import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../errors.js';
import { callProvider } from './call.js';
import { NoopLimiter, type ProviderLimiter } from './limiter.js';
import { REAL_PROVIDER_URLS, resolveRuntime } from './runtime.js';
import { ProviderError, providerError } from './types.js';

const rt = (over: Partial<Parameters<typeof resolveRuntime>[0]> = {}) =>
  resolveRuntime({
    urls: REAL_PROVIDER_URLS,
    limiter: new NoopLimiter(),
    logger: pino({ level: 'silent' }),
    serviceAccountId: 'ser_1',
    ...over,
  });
const spec = { provider: 'google' as const, api: 'google.directory' as const, op: 'test' };
const toError = (err: unknown) =>
  err instanceof ProviderError ? err : new ProviderError('google', 'provider_unavailable', String(err));
const limited = (ms: number) => providerError('google', 'rate_limited', '429', { retryAfterMs: ms });

describe('callProvider', () => {
  it('waits out provider 429s within the budget, honouring Retry-After', async () => {
    let attempts = 0;
    const t0 = Date.now();
    const result = await callProvider(
      rt(),
      spec,
      undefined,
      async () => {
        attempts += 1;
        if (attempts < 3) {
          throw limited(50);
        }
        return 'ok';
      },
      toError,
    );
    expect(result).toBe('ok');
    expect(attempts).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it('throws rate_limited when Retry-After is past the budget, and never retries other errors', async () => {
    let attempts = 0;
    const err = await callProvider(
      rt({ rateLimitMaxWaitMs: 1000 }),
      spec,
      undefined,
      async () => {
        attempts += 1;
        throw limited(5000);
      },
      toError,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'rate_limited', retryAfterMs: 5000 });
    expect(attempts).toBe(1);
    attempts = 0;
    await expect(
      callProvider(
        rt(),
        spec,
        undefined,
        async () => {
          attempts += 1;
          throw new ProviderError('google', 'provider_unavailable', '503');
        },
        toError,
      ),
    ).rejects.toMatchObject({ reason: 'provider_unavailable' });
    expect(attempts).toBe(1);
  });

  it("turns the limiter's RateLimitedError into rate_limited and releases permits", async () => {
    let released = 0;
    const refusing: ProviderLimiter = {
      acquire: async () => {
        throw new RateLimitedError(1234);
      },
      stats: () => new NoopLimiter().stats(),
    };
    await expect(
      callProvider(rt({ limiter: refusing }), spec, undefined, async () => 1, toError),
    ).rejects.toMatchObject({
      reason: 'rate_limited',
      retryAfterMs: 1234,
    });
    const counting: ProviderLimiter = {
      acquire: async () => ({
        waitedMs: 0,
        release: async () => {
          released += 1;
        },
      }),
      stats: () => new NoopLimiter().stats(),
    };
    await callProvider(rt({ limiter: counting }), spec, undefined, async () => 1, toError);
    await callProvider(
      rt({ limiter: counting }),
      spec,
      undefined,
      async () => {
        throw new Error('boom');
      },
      toError,
    ).catch(() => {});
    expect(released).toBe(2);
  });

  it('passes a signal that times out', async () => {
    const err = await callProvider(
      rt({ timeoutMs: 50 }),
      spec,
      undefined,
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      toError,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'provider_unavailable' });
  });
});
