import { index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { serviceAccounts } from './service-accounts.js';

/**
 * The explicit emails of a selection (lib/selection.ts), up to 50,000 per owner: a provisioning run
 * (`run_…`, its own copy) or a Service Account's default selection (`ser_…`). Kept out of the owner's
 * row, which is read on every batch.
 */
export const selectionEmails = pgTable(
  'selection_emails',
  {
    ownerId: text('owner_id').notNull(),
    serviceAccountId: text('service_account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    emailLower: text('email_lower').notNull(),
    email: text('email').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.ownerId, t.emailLower] }),
    index('selection_emails_service_account_idx').on(t.serviceAccountId),
  ],
);

export type SelectionEmail = typeof selectionEmails.$inferSelect;
