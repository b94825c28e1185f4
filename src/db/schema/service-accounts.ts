import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import type { StoredSelection } from '../../lib/selection.js';
import { applications } from './applications.js';
import { idColumn, lifecycleDates, oneOf, PROVIDERS, type ProviderName, tstz } from './columns.js';

export const SERVICE_ACCOUNT_STATUSES = ['active', 'broken', 'revoked'] as const;
export type ServiceAccountStatus = (typeof SERVICE_ACCOUNT_STATUSES)[number];

/** Per-Service-Account overrides of the provider quotas (calls per window); absent means the default. */
export type QuotaOverrides = Partial<Record<string, { points: number; durationSecs: number }>>;

/**
 * A Service Account (`ser_…`): an org-level provider credential an Application was granted. Google: a
 * service-account key with domain-wide delegation, used by impersonating `admin_email` for the
 * directory. Microsoft: an Entra app registration with application permissions in `tenant_id`.
 */
export const serviceAccounts = pgTable(
  'service_accounts',
  {
    id: idColumn(),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    provider: text('provider').$type<ProviderName>().notNull(),
    domain: text('domain').notNull(),
    /** Google: the admin user impersonated for Directory calls. */
    adminEmail: text('admin_email'),
    /** Microsoft: the tenant id. */
    tenantId: text('tenant_id'),
    /** Google service-account client_id / Microsoft app (client) id: public identifiers. */
    providerClientId: text('provider_client_id').notNull(),
    /** The key file (Google) or client secret (Microsoft), AES-GCM encrypted. */
    credentialsEncrypted: text('credentials_encrypted').notNull(),
    /** When the credential stops working (Microsoft secret expiry, Google key expiry), if known. */
    credentialExpiresAt: tstz('credential_expires_at'),
    /** The credential's end date as the provider records it (Microsoft secret end date, read from Graph). */
    providerCredentialExpiresAt: tstz('provider_credential_expires_at'),
    /** When the provider's end date was last read (or tried). */
    credentialExpiryReadAt: tstz('credential_expiry_read_at'),
    /** Where this Service Account's own notifications go (`service_account_credential_expiring`). */
    notificationUrl: text('notification_url'),
    scope: text('scope').notNull(),
    delegatedScope: text('delegated_scope').notNull(),
    status: text('status').$type<ServiceAccountStatus>().notNull().default('active'),
    /** Reason code while broken (delegation_not_granted, consent_revoked, invalid_credentials, …). */
    brokenReason: text('broken_reason'),
    brokenSince: tstz('broken_since'),
    lastError: text('last_error'),
    autoProvision: boolean('auto_provision').notNull().default(false),
    /**
     * The grace period: how long an entry may stay removed from the directory (or suspended, its
     * Profile disconnected) before its Account is revoked. Default 604,800 (7 days).
     */
    removalDelaySeconds: integer('removal_delay_seconds').notNull().default(604_800),
    /** When the credential was last replaced in place (PATCH or the authorize page). */
    credentialChangedAt: tstz('credential_changed_at'),
    quotaOverrides: jsonb('quota_overrides').$type<QuotaOverrides>().notNull().default({}),
    /** The default selection its runs and directory syncs keep to (lib/selection.ts); null: everything. */
    selection: jsonb('selection').$type<StoredSelection>(),
    lastDirectorySyncAt: tstz('last_directory_sync_at'),
    nextDirectorySyncAt: tstz('next_directory_sync_at'),
    /** Health re-check backoff while broken. */
    failureCount: integer('failure_count').notNull().default(0),
    nextHealthCheckAt: tstz('next_health_check_at'),
    revokedAt: tstz('revoked_at'),
    ...lifecycleDates,
  },
  (t) => [
    check('service_accounts_provider_check', sql`${t.provider} in (${oneOf(PROVIDERS)})`),
    check('service_accounts_status_check', sql`${t.status} in (${oneOf(SERVICE_ACCOUNT_STATUSES)})`),
    check('service_accounts_removal_delay_check', sql`${t.removalDelaySeconds} >= 0`),
    index('service_accounts_application_idx').on(t.applicationId),
    index('service_accounts_sync_due_idx').on(t.nextDirectorySyncAt).where(sql`${t.status} = 'active'`),
    index('service_accounts_broken_due_idx').on(t.nextHealthCheckAt).where(sql`${t.status} = 'broken'`),
  ],
);

export type ServiceAccount = typeof serviceAccounts.$inferSelect;
