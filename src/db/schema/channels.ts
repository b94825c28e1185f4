import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { accounts } from './accounts.js';
import { applications } from './applications.js';
import { idColumn, lifecycleDates, tstz } from './columns.js';

/** A Channel (`chn_…`): an Account's push-notification subscription. */
export const channels = pgTable(
  'channels',
  {
    id: idColumn(),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    callbackUrl: text('callback_url').notNull(),
    closedAt: tstz('closed_at'),
    ...lifecycleDates,
  },
  (t) => [index('channels_account_idx').on(t.accountId)],
);

export type Channel = typeof channels.$inferSelect;
