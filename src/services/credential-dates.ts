import type { ServiceAccount } from '../db/schema/service-accounts.js';

/**
 * When a Service Account's credential stops working: the provider's end date when it was read (a
 * Microsoft client secret's `endDateTime`), else the admin's `credential_expires_at`. Pure, so the
 * Service Account views, the dashboard and the expiry job agree.
 */
export type EffectiveExpiry = { at: Date; source: 'provider' | 'admin' };

export function effectiveExpiry(
  sa: Pick<ServiceAccount, 'providerCredentialExpiresAt' | 'credentialExpiresAt'>,
): EffectiveExpiry | null {
  if (sa.providerCredentialExpiresAt) {
    return { at: sa.providerCredentialExpiresAt, source: 'provider' };
  }
  return sa.credentialExpiresAt ? { at: sa.credentialExpiresAt, source: 'admin' } : null;
}
