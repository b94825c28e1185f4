import {
  findApplicationByClientId,
  findApplicationById,
  findApplicationBySecretHash,
} from '../db/queries/applications.js';
import { findLiveToken } from '../db/queries/tokens.js';
import { hashToken } from '../lib/crypto.js';
import { hasUnstorableText } from '../lib/text.js';
import type { AppContext } from './context.js';

/** Requests allowed in each window. */
export type RateLimits = { perSecond: number; perMinute: number };

/** Who a request is counted against (`app:<id>` or `ip:<address>`), and that budget's size. */
export type RateLimitSubject = { key: string; limits: RateLimits };

/**
 * An Application's windows: the defaults, or its per-minute override with the per-second window
 * scaled by the same factor (at least 1), so an override never leaves a burst limit out of proportion.
 */
export function limitsFor(defaults: RateLimits, perMinuteOverride: number | null | undefined): RateLimits {
  if (perMinuteOverride === null || perMinuteOverride === undefined) {
    return defaults;
  }
  return {
    perMinute: perMinuteOverride,
    perSecond: Math.max(1, Math.round((perMinuteOverride * defaults.perSecond) / defaults.perMinute)),
  };
}

/**
 * Lookups are remembered for a minute (the limiter asks on every request), so an `ec apps update`
 * reaches running API processes within about that long. Promises are cached, not values, so a burst
 * of requests from a new caller costs one query, not one per request.
 */
const TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;
/** Longer than any client id or token we issue: such values are not looked up at all. */
const MAX_LOOKUP_LENGTH = 512;

function ttlCache<V>(): (key: string, load: () => Promise<V>) => Promise<V> {
  const entries = new Map<string, { value: Promise<V>; until: number }>();
  return (key, load) => {
    const now = Date.now();
    const hit = entries.get(key);
    if (hit && hit.until > now) {
      return hit.value;
    }
    if (entries.size >= MAX_ENTRIES) {
      entries.clear();
    }
    const value = load();
    entries.set(key, { value, until: now + TTL_MS });
    // A failed lookup is not remembered: the next request asks again.
    value.catch(() => entries.delete(key));
    return value;
  };
}

export type RateLimitKeys = {
  /** A request with this bearer (client secret, Service Account or Account token), or none. */
  forBearer: (bearer: string | undefined, ip: string) => Promise<RateLimitSubject>;
  /** A token-endpoint request naming this `client_id` in its body, or none. */
  forClientId: (clientId: string | undefined, ip: string) => Promise<RateLimitSubject>;
};

/**
 * Rate-limit buckets are per Application: every credential an Application holds (its client secret,
 * its Service Account and Account tokens, its client_id at the token endpoints) draws from one
 * budget. A caller that names no known Application is limited by its address instead, so guessing
 * tokens or client ids is throttled too.
 */
export function createRateLimitKeys(app: Pick<AppContext, 'db'>, defaults: RateLimits): RateLimitKeys {
  const applicationOfBearer = ttlCache<string | null>();
  const applicationOfClientId = ttlCache<string | null>();
  const overrideOf = ttlCache<number | null>();

  const subject = async (applicationId: string | null, ip: string): Promise<RateLimitSubject> => {
    if (!applicationId) {
      return { key: `ip:${ip}`, limits: defaults };
    }
    const override = await overrideOf(applicationId, async () => {
      const application = await findApplicationById(app.db, applicationId);
      return application?.rateLimitPerMinute ?? null;
    });
    return { key: `app:${applicationId}`, limits: limitsFor(defaults, override) };
  };

  return {
    forBearer: async (bearer, ip) => {
      if (!bearer || bearer.length > MAX_LOOKUP_LENGTH) {
        return subject(null, ip);
      }
      const hash = hashToken(bearer);
      const applicationId = await applicationOfBearer(hash, async () => {
        const token = await findLiveToken(app.db, hash, 'access');
        return token?.applicationId ?? (await findApplicationBySecretHash(app.db, hash))?.id ?? null;
      });
      return subject(applicationId, ip);
    },
    forClientId: async (clientId, ip) => {
      // Text Postgres cannot compare names no Application (and the request is refused after this).
      if (!clientId || clientId.length > MAX_LOOKUP_LENGTH || hasUnstorableText(clientId)) {
        return subject(null, ip);
      }
      const applicationId = await applicationOfClientId(clientId, async () => {
        const application = await findApplicationByClientId(app.db, clientId);
        return application?.id ?? null;
      });
      return subject(applicationId, ip);
    },
  };
}
