import { ValidationError } from '../errors.js';
import { isProviderError, type ProviderFailure, type ProviderReason } from '../providers/types.js';

/** What each reason code means to a person (callbacks' `error_description`, run items, dashboard). */
export const REASON_DESCRIPTIONS: Record<
  ProviderReason | 'service_account_revoked' | 'scope_not_delegated' | 'invalid_provider_data',
  string
> = {
  user_not_found: 'No user, room or shared mailbox with this email exists in the directory',
  user_suspended: 'The user is suspended or blocked from signing in',
  mailbox_not_enabled: 'The user has no mailbox or calendar (not licensed or never set up)',
  delegation_not_granted:
    'Domain-wide delegation is not granted to the service account for the required scopes',
  consent_revoked: 'Admin consent for the application was withdrawn in the tenant',
  invalid_credentials: 'The service account credential is wrong, expired or deleted',
  insufficient_permissions: 'The service account lacks a permission needed for this mailbox',
  rate_limited: 'The provider throttled requests; try again later',
  provider_unavailable: 'The provider could not be reached or failed repeatedly',
  service_account_revoked: 'The Service Account was deleted or revoked',
  scope_not_delegated: 'The requested scope is not within the delegated scope of the Service Account',
  invalid_provider_data:
    'The provider returned data for this mailbox that cannot be stored (a value too long, invalid text or one the database refuses)',
};

export type ReasonCode = keyof typeof REASON_DESCRIPTIONS;

/** RFC 6749-style `error` for a callback: temporary problems differ from refusals. */
export function oauthErrorFor(reason: ReasonCode): string {
  return reason === 'rate_limited' || reason === 'provider_unavailable'
    ? 'temporarily_unavailable'
    : 'access_denied';
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
export function asCredentialRefusal(err: unknown): unknown {
  if (!isProviderError(err) || err.retryable) {
    return err;
  }
  return new ValidationError(
    describeProviderFailure(err),
    {
      credentials: [
        { key: `errors.${err.reason}`, description: `${REASON_DESCRIPTIONS[err.reason]}: ${err.message}` },
      ],
    },
    { cause: err, context: { provider: err.provider, reason: err.reason } },
  );
}
