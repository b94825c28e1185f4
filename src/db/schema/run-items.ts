import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { idColumn, lifecycleDates, MAILBOX_KINDS, type MailboxKind, oneOf } from './columns.js';
import { provisioningRuns } from './provisioning-runs.js';

/** `would_provision`: a dry run found nothing against provisioning this item. */
export const RUN_ITEM_STATUSES = [
  'pending',
  'provisioned',
  'would_provision',
  'skipped',
  'failed',
  'cancelled',
] as const;
export type RunItemStatus = (typeof RUN_ITEM_STATUSES)[number];

/** One user or room of a provisioning run; at most one per (run, lower-cased email). */
export const runItems = pgTable(
  'run_items',
  {
    id: idColumn(),
    runId: text('run_id')
      .notNull()
      .references(() => provisioningRuns.id, { onDelete: 'cascade' }),
    /**
     * Not foreign keys (this one and `account_id`): directory entries and Accounts are deleted only with
     * their Service Account, which deletes its runs and so their items too (migration 0010).
     */
    directoryEntryId: text('directory_entry_id'),
    kind: text('kind').$type<MailboxKind>().notNull(),
    email: text('email').notNull(),
    emailLower: text('email_lower').notNull(),
    status: text('status').$type<RunItemStatus>().notNull().default('pending'),
    errorKey: text('error_key'),
    errorDescription: text('error_description'),
    accountId: text('account_id'),
    attempts: integer('attempts').notNull().default(0),
    ...lifecycleDates,
  },
  (t) => [
    check('run_items_status_check', sql`${t.status} in (${oneOf(RUN_ITEM_STATUSES)})`),
    check('run_items_kind_check', sql`${t.kind} in (${oneOf(MAILBOX_KINDS)})`),
    uniqueIndex('run_items_run_email_uq').on(t.runId, t.emailLower),
    index('run_items_run_status_idx').on(t.runId, t.status, t.id),
    index('run_items_run_id_idx').on(t.runId, t.id),
    /** Failed items, for the failure lists (/admin, `ec failures --items`) across runs. */
    index('run_items_failed_idx').on(t.runId, t.id).where(sql`${t.status} = 'failed'`),
  ],
);

export type RunItem = typeof runItems.$inferSelect;
