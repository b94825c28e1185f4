/**
 * Every reason code, in one table: the `error_key` of callbacks, run items and disconnected
 * Profiles, and the reason of a provider failure. `provider`: a provider adapter may fail with it;
 * `retryable`: trying again later may help (the queue retries; a callback says
 * `temporarily_unavailable`); `serviceAccount`: it means the Service Account itself is broken, not
 * one mailbox; `description`: what it means to a person (callbacks' `error_description`, run items,
 * the dashboard, the relink page). The README's reason table repeats it.
 */
export const REASONS = {
  user_not_found: {
    provider: true,
    retryable: false,
    serviceAccount: false,
    description: 'No user, room or shared mailbox with this email exists in the directory',
  },
  user_suspended: {
    provider: true,
    retryable: false,
    serviceAccount: false,
    description: 'The user is suspended or blocked from signing in',
  },
  mailbox_not_enabled: {
    provider: true,
    retryable: false,
    serviceAccount: false,
    description: 'The user has no mailbox or calendar (not licensed or never set up)',
  },
  guest_user: {
    provider: true,
    retryable: false,
    serviceAccount: false,
    description:
      'The user is a guest from another organization (Microsoft userType Guest): guests are not provisioned',
  },
  delegation_not_granted: {
    provider: true,
    retryable: false,
    serviceAccount: true,
    description: 'Domain-wide delegation is not granted to the service account for the required scopes',
  },
  consent_revoked: {
    provider: true,
    retryable: false,
    serviceAccount: true,
    description: 'Admin consent for the application was withdrawn in the tenant',
  },
  invalid_credentials: {
    provider: true,
    retryable: false,
    serviceAccount: true,
    description: 'The service account credential is wrong, expired or deleted',
  },
  insufficient_permissions: {
    provider: true,
    retryable: false,
    serviceAccount: true,
    description: 'The service account lacks a permission needed for this mailbox',
  },
  rate_limited: {
    provider: true,
    retryable: true,
    serviceAccount: false,
    description: 'The provider throttled requests; try again later',
  },
  provider_unavailable: {
    provider: true,
    retryable: true,
    serviceAccount: false,
    description: 'The provider could not be reached or failed repeatedly',
  },
  service_account_revoked: {
    provider: false,
    retryable: false,
    serviceAccount: false,
    description: 'The Service Account was deleted or revoked',
  },
  scope_not_delegated: {
    provider: false,
    retryable: false,
    serviceAccount: false,
    description: 'The requested scope is not within the delegated scope of the Service Account',
  },
  invalid_provider_data: {
    provider: false,
    retryable: false,
    serviceAccount: false,
    description:
      'The provider returned data for this mailbox that cannot be stored (a value too long, invalid text or one the database refuses)',
  },
} as const;

export type ReasonCode = keyof typeof REASONS;
/** The reasons a provider adapter may fail with. */
export type ProviderReason = {
  [K in ReasonCode]: (typeof REASONS)[K]['provider'] extends true ? K : never;
}[ReasonCode];

const codes = Object.keys(REASONS) as ReasonCode[];
export const PROVIDER_REASON_CODES = codes.filter((c) => REASONS[c].provider) as ProviderReason[];
/** Reasons that mean the Service Account itself is broken (not just one mailbox). */
export const SERVICE_ACCOUNT_REASONS = codes.filter(
  (c) => REASONS[c].serviceAccount,
) as readonly ProviderReason[];
export const REASON_DESCRIPTIONS = Object.fromEntries(codes.map((c) => [c, REASONS[c].description])) as {
  [K in ReasonCode]: (typeof REASONS)[K]['description'];
};
