import { date, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { tstz } from './columns.js';
import { serviceAccounts } from './service-accounts.js';

/**
 * A Service Account's Profiles connected and disconnected on one day (UTC), as last counted that
 * day: the `profiles.snapshot` job rewrites today's row every hour, so a past day holds its count
 * from that day's last hour. What the Service Account's page on /admin draws.
 */
export const profileStateDays = pgTable(
  'profile_state_days',
  {
    serviceAccountId: text('service_account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    day: date('day', { mode: 'string' }).notNull(),
    connected: integer('connected').notNull().default(0),
    disconnected: integer('disconnected').notNull().default(0),
    recordedAt: tstz('recorded_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.serviceAccountId, t.day] })],
);

export type ProfileStateDay = typeof profileStateDays.$inferSelect;
