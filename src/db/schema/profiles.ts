import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { accounts } from './accounts.js';
import { idColumn, lifecycleDates, oneOf, PROVIDERS, type ProviderName, tstz } from './columns.js';

/**
 * A Profile (`pro_…`): the provider connection behind an Account. Connected, or disconnected with a
 * reason code; `next_check_at` drives the scheduler's sweeps (one partial index per state so a sweep
 * reads only due rows).
 */
export const profiles = pgTable(
  'profiles',
  {
    id: idColumn(),
    accountId: text('account_id')
      .notNull()
      .unique()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    /** Not a foreign key: the Account's (deleting its Service Account deletes the Account, then this). */
    serviceAccountId: text('service_account_id').notNull(),
    provider: text('provider').$type<ProviderName>().notNull(),
    /** The mailbox's id at the provider (Google user id / resource id, Graph object id). */
    providerProfileId: text('provider_profile_id').notNull(),
    profileName: text('profile_name').notNull(),
    connected: boolean('connected').notNull().default(true),
    disconnectReason: text('disconnect_reason'),
    disconnectedAt: tstz('disconnected_at'),
    /** Consecutive failed checks; drives the reconnect backoff. */
    failureCount: integer('failure_count').notNull().default(0),
    lastCheckedAt: tstz('last_checked_at'),
    /** Null once the Profile is revoked: it is never checked again. */
    nextCheckAt: tstz('next_check_at'),
    ...lifecycleDates,
  },
  (t) => [
    check('profiles_provider_check', sql`${t.provider} in (${oneOf(PROVIDERS)})`),
    check('profiles_disconnect_reason_check', sql`${t.connected} or ${t.disconnectReason} is not null`),
    index('profiles_connected_due_idx')
      .on(t.nextCheckAt)
      .where(sql`${t.connected} and ${t.nextCheckAt} is not null`),
    index('profiles_disconnected_due_idx')
      .on(t.nextCheckAt)
      .where(sql`not ${t.connected} and ${t.nextCheckAt} is not null`),
    index('profiles_service_account_idx').on(t.serviceAccountId, t.connected),
  ],
);

export type Profile = typeof profiles.$inferSelect;
