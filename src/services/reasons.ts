import { ValidationError } from '../errors.js';
import { REASON_DESCRIPTIONS, REASONS, type ReasonCode } from '../lib/reasons.js';
import { isProviderError, type ProviderFailure } from '../providers/types.js';
import { type FixContext, registrationFix } from './fixes.js';

/** What each reason code means to a person: from the one reason table (lib/reasons.ts). */
export { REASON_DESCRIPTIONS, type ReasonCode };

/** RFC 6749-style `error` for a callback: temporary problems differ from refusals. */
export function oauthErrorFor(reason: ReasonCode): string {
  return REASONS[reason].retryable ? 'temporarily_unavailable' : 'access_denied';
}

/** A provider failure as a person reads it: what the reason means, its code, the provider's words. */
export function describeProviderFailure(err: ProviderFailure): string {
  return `${REASON_DESCRIPTIONS[err.reason]} (${err.reason}): ${err.message}`;
}

/** `describeProviderFailure` for anything thrown; undefined when it is not a provider failure. */
export function providerFailureMessage(err: unknown): string | undefined {
  return isProviderError(err) ? describeProviderFailure(err) : undefined;
}

/**
 * A provider's final refusal of a Service Account's credential (wrong key, delegation or consent
 * missing) as bad input: a ValidationError on `credentials` whose key names the reason, so the API
 * answers 422 (Cronofy's shape). Anything else, a retryable failure included, is returned as it is.
 */
export function asCredentialRefusal(err: unknown, fixContext?: FixContext): unknown {
  if (!isProviderError(err) || err.retryable) {
    return err;
  }
  // The same fix text `ec doctor` prints for the check that failed (services/fixes.ts).
  const fix = fixContext ? ` Fix: ${registrationFix(err, fixContext)}` : '';
  return new ValidationError(
    `${describeProviderFailure(err)}${fix}`,
    {
      credentials: [
        {
          key: `errors.${err.reason}`,
          description: `${REASON_DESCRIPTIONS[err.reason]}: ${err.message}${fix}`,
        },
      ],
    },
    { cause: err, context: { provider: err.provider, reason: err.reason } },
  );
}
