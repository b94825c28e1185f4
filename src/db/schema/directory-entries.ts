import { sql } from 'drizzle-orm';
import { boolean, check, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { idColumn, lifecycleDates, MAILBOX_KINDS, type MailboxKind, oneOf, tstz } from './columns.js';
import { serviceAccounts } from './service-accounts.js';

/**
 * What a Service Account's directory lists: Directory users and Resources (rooms, equipment), with the
 * provider's ids and room details. Kept current by directory listing and sync; `removed_at` marks
 * entries the directory no longer lists.
 */
export const directoryEntries = pgTable(
  'directory_entries',
  {
    id: idColumn(),
    serviceAccountId: text('service_account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<MailboxKind>().notNull(),
    /** As the provider spells it. */
    email: text('email').notNull(),
    /** Lower-cased: the identity used for uniqueness and lookups. */
    emailLower: text('email_lower').notNull(),
    providerId: text('provider_id').notNull(),
    name: text('name').notNull(),
    suspended: boolean('suspended').notNull().default(false),
    hasMailbox: boolean('has_mailbox').notNull().default(true),
    capacity: integer('capacity'),
    building: text('building'),
    floor: text('floor'),
    resourceType: text('resource_type'),
    lastSeenAt: tstz('last_seen_at').notNull().defaultNow(),
    removedAt: tstz('removed_at'),
    ...lifecycleDates,
  },
  (t) => [
    check('directory_entries_kind_check', sql`${t.kind} in (${oneOf(MAILBOX_KINDS)})`),
    uniqueIndex('directory_entries_sa_email_uq').on(t.serviceAccountId, t.emailLower),
  ],
);

export type DirectoryEntry = typeof directoryEntries.$inferSelect;
