import { sql } from 'drizzle-orm';
import { check, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { idColumn, lifecycleDates, MAILBOX_KINDS, type MailboxKind, oneOf, tstz } from './columns.js';
import { serviceAccounts } from './service-accounts.js';

export const ACCOUNT_STATUSES = ['active', 'revoked'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

/**
 * A Delegate Calendar Account (`acc_…`): one user's or room's calendar access through its Service
 * Account. Exactly one per (Service Account, lower-cased email), ever: re-authorizing re-uses it.
 */
export const accounts = pgTable(
  'accounts',
  {
    id: idColumn(),
    /** Not a foreign key: the Service Account's (its own key cascades from the Application). */
    applicationId: text('application_id').notNull(),
    serviceAccountId: text('service_account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    /**
     * Not a foreign key: directory entries are deleted only with their Service Account, which deletes
     * its Accounts too (migration 0010).
     */
    directoryEntryId: text('directory_entry_id'),
    kind: text('kind').$type<MailboxKind>().notNull(),
    email: text('email').notNull(),
    emailLower: text('email_lower').notNull(),
    name: text('name').notNull(),
    /** Scope granted to this Account's tokens (within the Service Account's delegated scope). */
    scope: text('scope').notNull(),
    status: text('status').$type<AccountStatus>().notNull().default('active'),
    revokedAt: tstz('revoked_at'),
    ...lifecycleDates,
  },
  (t) => [
    check('accounts_kind_check', sql`${t.kind} in (${oneOf(MAILBOX_KINDS)})`),
    check('accounts_status_check', sql`${t.status} in (${oneOf(ACCOUNT_STATUSES)})`),
    check('accounts_email_lower_check', sql`${t.emailLower} = lower(${t.email})`),
    uniqueIndex('accounts_sa_email_uq').on(t.serviceAccountId, t.emailLower),
  ],
);

export type Account = typeof accounts.$inferSelect;
