import { sql } from 'drizzle-orm';
import { text, timestamp } from 'drizzle-orm/pg-core';

/** Shared column helpers: every table names its timestamps the same way, all with time zone. */
export const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const lifecycleDates = {
  createdAt: tstz('created_at').notNull().defaultNow(),
  updatedAt: tstz('updated_at')
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date()),
};

/** Prefixed text primary key (`acc_…`), generated in code by lib/ids.ts. */
export const idColumn = () => text('id').primaryKey();

/** SQL literal list for a check constraint on a text column. */
export const oneOf = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));

export const PROVIDERS = ['google', 'microsoft'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** What a directory entry or Account stands for. */
export const MAILBOX_KINDS = ['user', 'room', 'shared_mailbox'] as const;
export type MailboxKind = (typeof MAILBOX_KINDS)[number];
