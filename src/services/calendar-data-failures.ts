import type { CalendarOwner } from '../db/queries/calendar-owners.js';
import { findProfileForCheck } from '../db/queries/profiles.js';
import { ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  isProviderError,
  type ProviderError,
  type ProviderFailure,
  SERVICE_ACCOUNT_REASONS,
} from '../providers/types.js';
import type { AppContext } from './context.js';
import { recordFailure } from './profiles.js';
import { confirmServiceAccountBroken } from './service-account-health.js';

/** Retry-After of a 503 when the provider named no delay. */
export const UNAVAILABLE_RETRY_MS = 5_000;

export type FailureOptions = { signal: AbortSignal; logger: Logger };

/**
 * A provider's final refusal on a calendar-data call, handled as a scheduled check would handle it:
 * a Service Account reason first confirms the Service Account is broken (then its Profiles are
 * paused, as there); otherwise a connected Profile is disconnected with the reason, its
 * `profile_disconnected` notification stored and its reconnect backoff started, through the same
 * conditional update as `profiles.check` (a check running at the same time wins, nothing doubles).
 */
export async function disconnectAfterRefusal(
  app: AppContext,
  profileId: string,
  refusal: ProviderError,
  opts: FailureOptions,
): Promise<void> {
  const found = await findProfileForCheck(app.db, profileId);
  const leaseAt = found?.profile.nextCheckAt;
  if (!found || !leaseAt || found.account.status !== 'active' || found.serviceAccount.status !== 'active') {
    return;
  }
  if (SERVICE_ACCOUNT_REASONS.includes(refusal.reason)) {
    if (await confirmServiceAccountBroken(app, found.serviceAccount, refusal, opts)) {
      return;
    }
  }
  if (!found.profile.connected) {
    return; // already disconnected: its scheduled checks own the backoff
  }
  const outcome = await recordFailure(app, found, leaseAt, refusal.reason);
  opts.logger.warn(
    { profileId, reason: refusal.reason, outcome },
    'calendar data call refused; profile disconnected',
  );
}

/**
 * What a request answers when a provider call for `owner` failed: a rate limit or an outage is a 503
 * with Retry-After (nothing changes); a final refusal disconnects the Profile first, then is thrown
 * as it is (its reason is the error code).
 */
export async function failedDataCall(
  app: AppContext,
  owner: CalendarOwner,
  err: unknown,
  opts: FailureOptions,
): Promise<never> {
  if (!isProviderError(err)) {
    throw err;
  }
  if (err.retryable) {
    throw unavailable(err);
  }
  await disconnectAfterRefusal(app, owner.profile.id, err, opts);
  throw err;
}

export function unavailable(err: ProviderFailure): ServiceUnavailableError {
  const retryAfterMs = 'retryAfterMs' in err ? err.retryAfterMs : UNAVAILABLE_RETRY_MS;
  return new ServiceUnavailableError(
    retryAfterMs,
    err.reason === 'rate_limited'
      ? 'The calendar provider is throttling requests; try again after Retry-After'
      : 'The calendar provider could not be reached; try again after Retry-After',
    { cause: err },
  );
}
