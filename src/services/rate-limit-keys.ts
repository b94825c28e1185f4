import { findApplicationBySecretHash } from '../db/queries/applications.js';
import { findLiveToken } from '../db/queries/tokens.js';
import { hashToken } from '../lib/crypto.js';
import type { AppContext } from './context.js';

/** Bearer hash → Application id, remembered for a minute (the rate limiter asks on every request). */
const TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;

/**
 * Rate-limit buckets are per Application: every token an Application holds (its client secret,
 * its Service Account and Account tokens) draws from one budget. A bearer that matches nothing is
 * limited by the caller's address instead, so guessing tokens is throttled too.
 */
export function createRateLimitKeys(
  app: Pick<AppContext, 'db'>,
): (bearer: string | undefined, ip: string) => Promise<string> {
  const cache = new Map<string, { applicationId: string | null; until: number }>();
  const resolve = async (hash: string): Promise<string | null> => {
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && hit.until > now) {
      return hit.applicationId;
    }
    const token = await findLiveToken(app.db, hash, 'access');
    const applicationId =
      token?.applicationId ?? (await findApplicationBySecretHash(app.db, hash))?.id ?? null;
    if (cache.size >= MAX_ENTRIES) {
      cache.clear();
    }
    cache.set(hash, { applicationId, until: now + TTL_MS });
    return applicationId;
  };
  return async (bearer, ip) => {
    if (!bearer || bearer.length > 512) {
      return `ip:${ip}`;
    }
    const applicationId = await resolve(hashToken(bearer));
    return applicationId ? `app:${applicationId}` : `ip:${ip}`;
  };
}
