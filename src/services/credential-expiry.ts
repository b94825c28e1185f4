import { serviceAccountsPage } from '../db/queries/credential-expiry.js';
import { updateServiceAccount } from '../db/queries/service-accounts.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import type { PermissionProbe } from '../providers/probe.js';
import { isProviderError, type ProviderFailure } from '../providers/types.js';
import type { AppContext } from './context.js';
import { type EffectiveExpiry, effectiveExpiry } from './credential-dates.js';
import { deliveryIdFor, storeDelivery } from './deliveries.js';
import { storedCredentials } from './service-accounts.js';

/**
 * When a Service Account's credential stops working, and telling its Application in time. The end
 * date is the provider's when it can be read (a Microsoft client secret's `endDateTime`, through Graph
 * `/applications` with Application.Read.All), else the admin's `credential_expires_at`. The
 * `service-accounts.credential-expiry` job reads it and sends `service_account_credential_expiring`
 * to the Service Account's `notification_url` once per threshold (30, 7 and 1 days ahead).
 */

/** Days ahead a notification is sent, one per threshold. */
export const EXPIRY_THRESHOLDS_DAYS = [30, 7, 1] as const;
/** The provider's end date is read again after this long. Default 6 hours. */
export const EXPIRY_READ_EVERY_MS = 6 * 3_600_000;
export { type EffectiveExpiry, effectiveExpiry };

const DAY_MS = 86_400_000;
const PAGE = 200;

/** The tightest threshold the remaining time is within (an expired credential counts as the last). */
export function thresholdFor(at: Date, now: Date): (typeof EXPIRY_THRESHOLDS_DAYS)[number] | null {
  const left = at.getTime() - now.getTime();
  let hit: (typeof EXPIRY_THRESHOLDS_DAYS)[number] | null = null;
  for (const days of EXPIRY_THRESHOLDS_DAYS) {
    if (left <= days * DAY_MS) {
      hit = days;
    }
  }
  return hit;
}

/**
 * Reads the end date of the secret in use from Graph (the secret whose hint — its first characters —
 * matches, else the latest) and stores it. Microsoft only; a refusal (no Application.Read.All) is
 * returned and the admin's date stays the one used.
 */
export async function readProviderExpiry(
  app: AppContext,
  sa: ServiceAccount,
  probe?: PermissionProbe,
): Promise<{ at: Date | null; error?: ProviderFailure }> {
  if (sa.provider !== 'microsoft') {
    return { at: null };
  }
  const credentials = storedCredentials(app, sa);
  const own = probe ?? app.providers.probe(credentials, sa.id);
  try {
    const found = await own.secretExpiry();
    const secrets = found?.secrets ?? [];
    const hint = credentials.provider === 'microsoft' ? credentials.clientSecret.slice(0, 3) : '';
    const mine = secrets.filter((s) => s.hint !== null && s.hint === hint);
    const pool = mine.length > 0 ? mine : secrets;
    const at = pool.reduce<Date | null>(
      (best, s) => (!best || s.endDateTime > best ? s.endDateTime : best),
      null,
    );
    await updateServiceAccount(app.db, sa.id, {
      providerCredentialExpiresAt: at,
      credentialExpiryReadAt: new Date(),
    });
    return { at };
  } catch (err) {
    if (!isProviderError(err)) {
      throw err;
    }
    // The date read before stays: the secret in use is still the one it was read for (a credential
    // replaced in place clears it, so a refusal then leaves the admin's date, if any).
    await updateServiceAccount(app.db, sa.id, { credentialExpiryReadAt: new Date() });
    return { at: null, error: err };
  } finally {
    if (!probe) {
      await own.close();
    }
  }
}

export function expiringNotificationBody(
  sa: ServiceAccount,
  expiry: EffectiveExpiry,
  threshold: number,
  now: Date,
) {
  return {
    notification: {
      type: 'service_account_credential_expiring',
      service_account_id: sa.id,
      provider_name: sa.provider,
      domain: sa.domain,
      credential_expires_at: expiry.at.toISOString(),
      credential_expires_at_source: expiry.source,
      threshold_days: threshold,
      days_left: Math.floor((expiry.at.getTime() - now.getTime()) / DAY_MS),
    },
  };
}

/**
 * Stores the notification for the threshold the Service Account is within, once: its delivery id is
 * derived from the Service Account, the end date and the threshold, so running again sends nothing
 * new, and a new credential (a new end date) starts over. Returns the threshold notified, if any.
 */
export async function notifyCredentialExpiry(
  app: AppContext,
  sa: ServiceAccount,
  now = new Date(),
): Promise<number | null> {
  const expiry = effectiveExpiry(sa);
  const threshold = expiry ? thresholdFor(expiry.at, now) : null;
  if (!expiry || threshold === null || !sa.notificationUrl) {
    return null;
  }
  const stored = await storeDelivery(app.db, app, {
    id: deliveryIdFor(`credential_expiring:${sa.id}:${expiry.at.toISOString()}:${threshold}`),
    applicationId: sa.applicationId,
    kind: 'notification',
    url: sa.notificationUrl,
    body: expiringNotificationBody(sa, expiry, threshold, now),
  });
  return stored ? threshold : null;
}

export type ExpirySweepReport = { serviceAccounts: number; read: number; notified: number };

/** `service-accounts.credential-expiry`: every Service Account not revoked, in pages of 200. */
export async function credentialExpirySweep(
  app: AppContext,
  opts: { now?: Date; signal?: AbortSignal } = {},
): Promise<ExpirySweepReport> {
  const report: ExpirySweepReport = { serviceAccounts: 0, read: 0, notified: 0 };
  let after = '';
  for (;;) {
    const page = await serviceAccountsPage(app.db, after, PAGE);
    for (const sa of page) {
      if (opts.signal?.aborted) {
        return report;
      }
      report.serviceAccounts += 1;
      let current = sa;
      const now = opts.now ?? new Date();
      const due =
        !sa.credentialExpiryReadAt ||
        now.getTime() - sa.credentialExpiryReadAt.getTime() > EXPIRY_READ_EVERY_MS;
      if (sa.provider === 'microsoft' && due) {
        const read = await readProviderExpiry(app, sa);
        report.read += 1;
        current = {
          ...sa,
          providerCredentialExpiresAt: read.error ? sa.providerCredentialExpiresAt : read.at,
        };
      }
      if ((await notifyCredentialExpiry(app, current, now)) !== null) {
        report.notified += 1;
      }
    }
    const last = page.at(-1);
    if (!last || page.length < PAGE) {
      return report;
    }
    after = last.id;
  }
}
