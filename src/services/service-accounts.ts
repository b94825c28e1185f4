import { z } from 'zod';
import { markServiceAccountAccountsRevoked } from '../db/queries/accounts.js';
import { insertAuditEvent } from '../db/queries/audit-events.js';
import { aadOf } from '../db/queries/encrypted-columns.js';
import { cancelActiveRunsOf } from '../db/queries/runs.js';
import {
  countServiceAccountProfiles,
  findServiceAccount,
  insertServiceAccount,
  updateServiceAccount,
} from '../db/queries/service-accounts.js';
import { revokeAccountTokensOfServiceAccount, revokeSubjectTokens } from '../db/queries/tokens.js';
import type { Application } from '../db/schema/applications.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { GoogleServiceAccountKey, ServiceCredentials } from '../providers/types.js';
import type { AppContext } from './context.js';
import { effectiveExpiry } from './credential-dates.js';
import { credentialFixContext } from './fixes.js';
import { checkNotificationUrl } from './notification-url.js';
import { asCredentialRefusal } from './reasons.js';
import {
  DEFAULT_DELEGATED_SCOPE,
  DEFAULT_SERVICE_ACCOUNT_SCOPE,
  isCalendarScope,
  isServiceAccountScope,
} from './scopes.js';
import {
  resolveRegistrationSelection,
  selectionInputSchema,
  selectionJson,
  storeSelection,
} from './selection.js';
import { checkTenantDomain } from './tenant-domains.js';
import { mintAuthorizationCode, mintTokenPair, type TokenPair } from './tokens.js';

export type { ServiceAccount };

/** Credentials expiring within this many days are flagged: whole tenants break at once when they lapse. */
export const EXPIRY_WARNING_DAYS = 30;

const domain = z
  .string({ error: 'is required' })
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{2,63}$/, 'must be a domain name such as example.com');

const googleKey = z.object({
  type: z.literal('service_account', { error: 'must be "service_account" (a service-account key file)' }),
  client_email: z.email({ error: 'must be the service account email' }),
  private_key: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  private_key_id: z.string().optional(),
  client_id: z.string().optional(),
  project_id: z.string().optional(),
});

const common = {
  domain,
  scope: z.string().max(1000).optional(),
  delegated_scope: z.string().max(1000).optional(),
  /** When the credential stops working, if the admin knows it (e.g. Entra client secret expiry). */
  credential_expires_at: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
  auto_provision: z.boolean().optional(),
  /** The default selection its runs and directory syncs keep to (services/selection.ts). */
  selection: selectionInputSchema.optional(),
  /** Where this Service Account's own notifications go (service_account_credential_expiring). */
  notification_url: z.string().min(1).max(2048).optional(),
};

export const registrationSchema = z.discriminatedUnion(
  'provider',
  [
    z.object({
      provider: z.literal('google'),
      admin_email: z.email({ error: 'must be an admin user email' }),
      credentials: z.union([googleKey, z.string().max(20_000)], {
        error: 'must be the service-account key JSON',
      }),
      customer_id: z.string().max(64).optional(),
      ...common,
    }),
    z.object({
      provider: z.literal('microsoft'),
      tenant_id: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'must be a tenant id (GUID) or domain'),
      client_id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be the application (client) id'),
      client_secret: z.string().min(1, 'is required').max(1024),
      ...common,
    }),
  ],
  { error: 'provider must be "google" or "microsoft"' },
);
export type Registration = z.infer<typeof registrationSchema>;

function parseGoogleKey(value: unknown): GoogleServiceAccountKey {
  let raw = value;
  if (typeof value === 'string') {
    try {
      raw = JSON.parse(value);
    } catch {
      throw new ValidationError('credentials is not valid JSON', {
        credentials: ['must be the key file JSON'],
      });
    }
  }
  const parsed = googleKey.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError('credentials is not a service-account key', {
      credentials: parsed.error.issues.map((i) => `${i.path.join('.') || 'key'} ${i.message}`),
    });
  }
  return parsed.data;
}

export function credentialsOf(input: Registration): ServiceCredentials {
  if (input.provider === 'google') {
    return {
      provider: 'google',
      domain: input.domain,
      adminEmail: input.admin_email,
      key: parseGoogleKey(input.credentials),
      customerId: input.customer_id,
    };
  }
  return {
    provider: 'microsoft',
    domain: input.domain,
    tenantId: input.tenant_id,
    clientId: input.client_id,
    clientSecret: input.client_secret,
  };
}

/** Decrypts a stored Service Account's credentials. */
export function storedCredentials(app: Pick<AppContext, 'keyring'>, sa: ServiceAccount): ServiceCredentials {
  return JSON.parse(
    app.keyring.decrypt(sa.credentialsEncrypted, aadOf('service_accounts', sa.id)),
  ) as ServiceCredentials;
}

export function expiryWarnings(expiresAt: Date | null, now = new Date()): string[] {
  if (!expiresAt) {
    return [];
  }
  const days = Math.floor((expiresAt.getTime() - now.getTime()) / 86_400_000);
  if (days < 0) {
    return ['The credential has expired: every Account of this Service Account will disconnect.'];
  }
  if (days <= EXPIRY_WARNING_DAYS) {
    return [
      `The credential expires in ${days} day(s) (${expiresAt.toISOString()}): renew it before every Account disconnects.`,
    ];
  }
  return [];
}

export type RegisteredServiceAccount = {
  serviceAccount: ServiceAccount;
  tokens: TokenPair;
  warnings: string[];
};

/** What registration hands out: tokens (API) or an authorization code for `redirectUri` (browser flow). */
export type Issue = { kind: 'tokens' } | { kind: 'code'; redirectUri: string };

/**
 * Registers a Service Account: verifies the credential live (a token and one directory page), then
 * stores it encrypted and mints its token pair. A provider's final refusal (delegation not granted,
 * wrong secret, consent missing) is a ValidationError on `credentials` naming the reason; an
 * unreachable or throttling provider stays a ProviderError / ProviderRateLimitedError (503 / 429).
 */
export async function registerServiceAccount(
  app: AppContext,
  application: Application,
  input: Registration,
  actor: string,
): Promise<RegisteredServiceAccount>;
export async function registerServiceAccount(
  app: AppContext,
  application: Application,
  input: Registration,
  actor: string,
  issue: { kind: 'code'; redirectUri: string },
): Promise<{ serviceAccount: ServiceAccount; code: string; warnings: string[] }>;
export async function registerServiceAccount(
  app: AppContext,
  application: Application,
  input: Registration,
  actor: string,
  issue: Issue = { kind: 'tokens' },
): Promise<{ serviceAccount: ServiceAccount; tokens?: TokenPair; code?: string; warnings: string[] }> {
  const scope = input.scope?.trim() || DEFAULT_SERVICE_ACCOUNT_SCOPE;
  const delegatedScope = input.delegated_scope?.trim() || DEFAULT_DELEGATED_SCOPE;
  const problems: Record<string, string[]> = {};
  if (!isServiceAccountScope(scope)) {
    problems.scope = ['must be service_account/... scopes (e.g. service_account/accounts/manage)'];
  }
  if (!isCalendarScope(delegatedScope)) {
    problems.delegated_scope = ['must be calendar scopes such as read_write, read_only or free_busy'];
  }
  if (Object.keys(problems).length > 0) {
    throw new ValidationError('Invalid scope', problems);
  }
  await checkNotificationUrl(app, input.notification_url);
  const credentials = credentialsOf(input);
  const provider = app.providers.forCredentials(credentials);
  try {
    await provider.verify();
    await checkTenantDomain(provider, credentials.domain);
  } catch (err) {
    throw asCredentialRefusal(err, credentialFixContext(credentials));
  } finally {
    await provider.close();
  }
  const selection =
    input.selection && (await resolveRegistrationSelection(app, credentials, input.selection));
  const expiresAt = input.credential_expires_at ? new Date(input.credential_expires_at) : null;
  const serviceAccountId = newId('serviceAccount');
  return app.db.transaction(async (tx) => {
    const serviceAccount = await insertServiceAccount(tx, {
      id: serviceAccountId,
      applicationId: application.id,
      provider: credentials.provider,
      domain: credentials.domain,
      adminEmail: credentials.provider === 'google' ? credentials.adminEmail : null,
      tenantId: credentials.provider === 'microsoft' ? credentials.tenantId : null,
      providerClientId:
        credentials.provider === 'google'
          ? (credentials.key.client_id ?? credentials.key.client_email)
          : credentials.clientId,
      credentialsEncrypted: app.keyring.encrypt(
        JSON.stringify(credentials),
        aadOf('service_accounts', serviceAccountId),
      ),
      credentialExpiresAt: expiresAt,
      notificationUrl: input.notification_url ?? null,
      scope,
      delegatedScope,
      autoProvision: input.auto_provision ?? false,
      selection: selection?.selection ?? null,
      nextDirectorySyncAt: new Date(Date.now() + app.config.scheduler.directorySyncIntervalSecs * 1000),
    });
    if (selection) {
      await storeSelection(
        tx,
        { ownerId: serviceAccount.id, serviceAccountId: serviceAccount.id },
        selection,
      );
    }
    const subject = { type: 'service_account' as const, serviceAccountId: serviceAccount.id };
    const issued =
      issue.kind === 'tokens'
        ? { tokens: await mintTokenPair(tx, application.id, subject, scope) }
        : {
            code: await mintAuthorizationCode(tx, {
              applicationId: application.id,
              subject,
              redirectUri: issue.redirectUri,
              scope,
            }),
          };
    await insertAuditEvent(tx, {
      id: newId('audit'),
      applicationId: application.id,
      actor,
      action: 'service_account.created',
      subjectType: 'service_account',
      subjectId: serviceAccount.id,
      data: { provider: credentials.provider, domain: credentials.domain },
    });
    return { serviceAccount, ...issued, warnings: expiryWarnings(expiresAt) };
  });
}

/** A Service Account of this Application (404 for anyone else's). */
export async function getOwnedServiceAccount(
  app: AppContext,
  application: Application,
  id: string,
): Promise<ServiceAccount> {
  const sa = await findServiceAccount(app.db, id);
  if (!sa || sa.applicationId !== application.id) {
    throw new NotFoundError('Service Account', id);
  }
  return sa;
}

export async function describeServiceAccount(app: AppContext, sa: ServiceAccount) {
  const counts = await countServiceAccountProfiles(app.db, sa.id);
  return {
    service_account_id: sa.id,
    provider_name: sa.provider,
    domain: sa.domain,
    status: sa.status,
    broken_reason: sa.brokenReason,
    scope: sa.scope,
    delegated_scope: sa.delegatedScope,
    accounts: counts.accounts,
    profiles_connected: counts.connected,
    profiles_disconnected: counts.disconnected,
    last_directory_sync_at: sa.lastDirectorySyncAt?.toISOString() ?? null,
    last_error: sa.lastError,
    // The provider's end date when it was read (Graph), else the admin's.
    credential_expires_at: effectiveExpiry(sa)?.at.toISOString() ?? null,
    credential_expires_at_source: effectiveExpiry(sa)?.source ?? null,
    credential_changed_at: sa.credentialChangedAt?.toISOString() ?? null,
    auto_provision: sa.autoProvision,
    selection: selectionJson(sa.selection),
    removal_delay_seconds: sa.removalDelaySeconds,
    warnings: expiryWarnings(effectiveExpiry(sa)?.at ?? null),
    created_at: sa.createdAt.toISOString(),
  };
}

/** Deletes (revokes) a Service Account: every Account under it and every token stop working. */
export async function revokeServiceAccount(
  app: AppContext,
  sa: ServiceAccount,
  actor: string,
): Promise<{ accounts: number }> {
  return app.db.transaction(async (tx) => {
    // First, so a provisioning batch in flight either commits before this or sees the revocation
    // (batches share-lock this row: lockServiceAccountStatus).
    await updateServiceAccount(tx, sa.id, {
      status: 'revoked',
      revokedAt: new Date(),
      nextDirectorySyncAt: null,
    });
    const cancelledRuns = await cancelActiveRunsOf(tx, sa.id);
    const accounts = await markServiceAccountAccountsRevoked(tx, sa.id);
    await revokeSubjectTokens(tx, sa.applicationId, { serviceAccountId: sa.id });
    await revokeAccountTokensOfServiceAccount(tx, sa.id);
    await insertAuditEvent(tx, {
      id: newId('audit'),
      applicationId: sa.applicationId,
      actor,
      action: 'service_account.revoked',
      subjectType: 'service_account',
      subjectId: sa.id,
      data: { accounts, cancelled_runs: cancelledRuns },
    });
    return { accounts };
  });
}

/** `GET /v1/userinfo` with a Service Account token, in Cronofy's shape (how apps learn the domain). */
export function serviceAccountUserinfo(sa: ServiceAccount, tokenScope: string) {
  return {
    sub: sa.id,
    email: sa.adminEmail ?? `${sa.providerClientId}@${sa.domain}`,
    'cronofy.type': 'service_account',
    'cronofy.data': {
      service_account: { provider_name: sa.provider === 'google' ? 'google' : 'exchange', domain: sa.domain },
      authorization: {
        scope: tokenScope,
        status: sa.status === 'active' ? 'active' : sa.status,
        delegated_scope: sa.delegatedScope,
      },
    },
  };
}
