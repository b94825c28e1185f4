import { boolean, index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { idColumn, lifecycleDates, tstz } from './columns.js';
import { profiles } from './profiles.js';

/** A Calendar (`cal_…`) of a Profile: the mailbox's primary calendar plus others the provider lists. */
export const calendars = pgTable(
  'calendars',
  {
    id: idColumn(),
    profileId: text('profile_id')
      .notNull()
      .references(() => profiles.id, { onDelete: 'cascade' }),
    /** Not a foreign key: the Profile's (deleting the Account deletes its Profile, then this). */
    accountId: text('account_id').notNull(),
    providerCalendarId: text('provider_calendar_id').notNull(),
    name: text('name').notNull(),
    readonly: boolean('readonly').notNull().default(false),
    primary: boolean('is_primary').notNull().default(false),
    /** Set when the provider stops listing it. */
    deletedAt: tstz('deleted_at'),
    ...lifecycleDates,
  },
  (t) => [
    uniqueIndex('calendars_profile_provider_uq').on(t.profileId, t.providerCalendarId),
    index('calendars_account_idx').on(t.accountId),
  ],
);

export type Calendar = typeof calendars.$inferSelect;
