import { z } from 'zod';
import { insertAuditEvent } from '../db/queries/audit-events.js';
import { aadOf } from '../db/queries/encrypted-columns.js';
import {
  findServiceAccount,
  findServiceAccountByDomain,
  updateServiceAccount,
} from '../db/queries/service-accounts.js';
import type { Application } from '../db/schema/applications.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { ConflictError, ValidationError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { ServiceCredentials } from '../providers/types.js';
import type { AppContext } from './context.js';
import { REMOVAL_GRACE_MS } from './directory-sync.js';
import { credentialFixContext } from './fixes.js';
import { asCredentialRefusal } from './reasons.js';
import {
  credentialsOf,
  type Registration,
  registerServiceAccount,
  storedCredentials,
} from './service-accounts.js';
import { checkTenantDomain } from './tenant-domains.js';
import { mintAuthorizationCode } from './tokens.js';

/** The grace period's default (7 days), as stored in `removal_delay_seconds`. */
export const DEFAULT_REMOVAL_DELAY_SECS = REMOVAL_GRACE_MS / 1000;
/** The longest grace period accepted: a year. */
export const MAX_REMOVAL_DELAY_SECS = 365 * 86_400;

/**
 * `PATCH /v1/service_accounts/{id}`: a new credential (Google key file, or Microsoft client secret),
 * verified live before it replaces the stored one, and settings. Unknown fields are refused, so a
 * misspelt setting is not silently ignored.
 */
export const serviceAccountPatchSchema = z
  .object({
    /** Google: the new service-account key file (the JSON object, or its text). */
    credentials: z
      .union([z.record(z.string(), z.unknown()), z.string().max(20_000)], {
        error: 'must be the service-account key JSON',
      })
      .optional(),
    /** Google: the admin user impersonated for Directory calls. */
    admin_email: z.email({ error: 'must be an admin user email' }).max(320).optional(),
    /** Microsoft: the new client secret. */
    client_secret: z.string().min(1, 'is required').max(1024).optional(),
    /** When the new credential stops working, if known; null clears it. */
    credential_expires_at: z.iso
      .datetime({ offset: true, error: 'must be an ISO 8601 date-time' })
      .nullable()
      .optional(),
    /** The grace period: seconds a removed or suspended user keeps its Account before revocation. */
    removal_delay_seconds: z
      .number({ error: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(0, 'must be at least 0')
      .max(MAX_REMOVAL_DELAY_SECS, `must be at most ${MAX_REMOVAL_DELAY_SECS} (a year)`)
      .optional(),
    auto_provision: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict();
export type ServiceAccountPatch = z.infer<typeof serviceAccountPatchSchema>;
type GoogleRegistration = Extract<Registration, { provider: 'google' }>;

/** The credential the patch asks for (stored one with the key or secret replaced), or undefined. */
function replacementOf(
  app: Pick<AppContext, 'keyring'>,
  sa: ServiceAccount,
  patch: ServiceAccountPatch,
): ServiceCredentials | undefined {
  const wrong = (field: string, provider: string) =>
    new ValidationError(`${field} is not a ${provider} Service Account field`, {
      [field]: [`is for ${provider} Service Accounts; this one is ${sa.provider}`],
    });
  if (sa.provider === 'google') {
    if (patch.client_secret !== undefined) {
      throw wrong('client_secret', 'Microsoft');
    }
    if (patch.credentials === undefined && patch.admin_email === undefined) {
      return undefined;
    }
    const stored = storedCredentials(app, sa);
    if (stored.provider !== 'google') {
      throw new Error('stored credential does not match the Service Account provider');
    }
    return credentialsOf({
      provider: 'google',
      domain: sa.domain,
      admin_email: patch.admin_email ?? stored.adminEmail,
      // Checked as a key file by credentialsOf (a 422 on `credentials` when it is not one).
      credentials: (patch.credentials ?? stored.key) as GoogleRegistration['credentials'],
      customer_id: stored.customerId,
    });
  }
  if (patch.credentials !== undefined || patch.admin_email !== undefined) {
    throw wrong(patch.credentials !== undefined ? 'credentials' : 'admin_email', 'Google');
  }
  if (patch.client_secret === undefined) {
    return undefined;
  }
  const stored = storedCredentials(app, sa);
  if (stored.provider !== 'microsoft') {
    throw new Error('stored credential does not match the Service Account provider');
  }
  return { ...stored, clientSecret: patch.client_secret };
}

/** Verifies credentials live, as registration does; a final refusal is a 422 naming the reason. */
async function verifyLive(app: AppContext, credentials: ServiceCredentials): Promise<void> {
  const provider = app.providers.forCredentials(credentials);
  try {
    await provider.verify();
    await checkTenantDomain(provider, credentials.domain);
  } catch (err) {
    throw asCredentialRefusal(err, credentialFixContext(credentials));
  } finally {
    await provider.close();
  }
}

export type ChangeResult = { serviceAccount: ServiceAccount; changed: string[] };

/**
 * Changes a Service Account in place: the credential (after a live check, as at registration) and
 * the settings. Its id, Accounts, Profiles and their tokens stay as they are; a Service Account
 * broken for its credential gets its health check due at once, which reconnects its Profiles. Every
 * change is audited (the fields changed, never a secret). A failed live check changes nothing.
 */
export async function changeServiceAccount(
  app: AppContext,
  sa: ServiceAccount,
  patch: ServiceAccountPatch,
  actor: string,
): Promise<ChangeResult> {
  if (sa.status === 'revoked') {
    throw new ConflictError('The Service Account is revoked: register a new one');
  }
  const fields = Object.keys(patch).filter((k) => patch[k as keyof ServiceAccountPatch] !== undefined);
  if (fields.length === 0) {
    throw new ValidationError('Nothing to change', {
      body: [
        'must name at least one of credentials, admin_email, client_secret, credential_expires_at, removal_delay_seconds, auto_provision',
      ],
    });
  }
  const credentials = replacementOf(app, sa, patch);
  if (credentials) {
    await verifyLive(app, credentials);
  }
  return app.db.transaction(async (tx) => {
    const update: Parameters<typeof updateServiceAccount>[2] = { updatedAt: new Date() };
    const settings: Record<string, { from: unknown; to: unknown }> = {};
    if (patch.auto_provision !== undefined && patch.auto_provision !== sa.autoProvision) {
      update.autoProvision = patch.auto_provision;
      settings.auto_provision = { from: sa.autoProvision, to: patch.auto_provision };
    }
    if (patch.removal_delay_seconds !== undefined && patch.removal_delay_seconds !== sa.removalDelaySeconds) {
      update.removalDelaySeconds = patch.removal_delay_seconds;
      settings.removal_delay_seconds = { from: sa.removalDelaySeconds, to: patch.removal_delay_seconds };
    }
    if (patch.credential_expires_at !== undefined) {
      const next = patch.credential_expires_at === null ? null : new Date(patch.credential_expires_at);
      update.credentialExpiresAt = next;
      settings.credential_expires_at = {
        from: sa.credentialExpiresAt?.toISOString() ?? null,
        to: next?.toISOString() ?? null,
      };
    }
    if (credentials) {
      update.credentialsEncrypted = app.keyring.encrypt(
        JSON.stringify(credentials),
        aadOf('service_accounts', sa.id),
      );
      update.credentialChangedAt = new Date();
      // The old secret's end date, read from the provider, is not this one's: read again by the next sweep.
      update.providerCredentialExpiresAt = null;
      update.credentialExpiryReadAt = null;
      update.lastError = null;
      if (credentials.provider === 'google') {
        update.adminEmail = credentials.adminEmail;
        update.providerClientId = credentials.key.client_id ?? credentials.key.client_email;
      }
      if (sa.status === 'broken') {
        // The health check verifies again and, when it works, reconnects the paused Profiles.
        update.nextHealthCheckAt = new Date();
      }
    }
    await updateServiceAccount(tx, sa.id, update);
    await insertAuditEvent(tx, {
      id: newId('audit'),
      applicationId: sa.applicationId,
      actor,
      action: 'service_account.updated',
      subjectType: 'service_account',
      subjectId: sa.id,
      data: {
        fields,
        credential_replaced: credentials !== undefined,
        ...(credentials?.provider === 'google'
          ? { admin_email: credentials.adminEmail, key_client_email: credentials.key.client_email }
          : {}),
        settings,
      },
    });
    const updated = await findServiceAccount(tx, sa.id);
    if (!updated) {
      throw new Error('service account vanished during its update');
    }
    return { serviceAccount: updated, changed: fields };
  });
}

/**
 * The authorize page for an Application and domain that already has a Service Account of that
 * provider: the one to replace the credential of (the newest not revoked), or undefined.
 */
export async function existingServiceAccountFor(
  app: Pick<AppContext, 'db'>,
  application: Application,
  input: Pick<Registration, 'provider' | 'domain'>,
): Promise<ServiceAccount | undefined> {
  return findServiceAccountByDomain(app.db, application.id, input.provider, input.domain);
}

/** The patch the authorize page's form amounts to for an existing Service Account. */
export function patchFromRegistration(input: Registration): ServiceAccountPatch {
  return input.provider === 'google'
    ? {
        credentials: input.credentials,
        admin_email: input.admin_email,
      }
    : { client_secret: input.client_secret };
}

/**
 * The authorize page's "verify and connect": for an Application and domain that already has a
 * Service Account of that provider, its credential is replaced in place (same checks, same audit)
 * and the code is minted for it; otherwise a new Service Account is registered.
 */
export async function connectServiceAccount(
  app: AppContext,
  application: Application,
  input: Registration,
  actor: string,
  redirectUri: string,
): Promise<{ serviceAccount: ServiceAccount; code: string; replaced: boolean }> {
  const existing = await existingServiceAccountFor(app, application, input);
  if (!existing) {
    const { serviceAccount, code } = await registerServiceAccount(app, application, input, actor, {
      kind: 'code',
      redirectUri,
    });
    return { serviceAccount, code, replaced: false };
  }
  const { serviceAccount } = await changeServiceAccount(app, existing, patchFromRegistration(input), actor);
  const code = await mintAuthorizationCode(app.db, {
    applicationId: application.id,
    subject: { type: 'service_account', serviceAccountId: serviceAccount.id },
    redirectUri,
    scope: serviceAccount.scope,
  });
  return { serviceAccount, code, replaced: true };
}
