import { sql } from 'drizzle-orm';
import { check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { accounts } from './accounts.js';
import { idColumn, oneOf, tstz } from './columns.js';
import { serviceAccounts } from './service-accounts.js';
import { TOKEN_SUBJECTS, type TokenSubject } from './tokens.js';

/**
 * Authorization codes: stored as SHA-256 hashes, single use (`used_at`), bound to the `redirect_uri`
 * they were issued for, short-lived.
 */
export const authorizationCodes = pgTable(
  'authorization_codes',
  {
    id: idColumn(),
    /** Not a foreign key: the subject's (an Account or a Service Account, whose keys cascade from the Application). */
    applicationId: text('application_id').notNull(),
    codeHash: text('code_hash').notNull().unique(),
    subjectType: text('subject_type').$type<TokenSubject>().notNull(),
    accountId: text('account_id').references(() => accounts.id, { onDelete: 'cascade' }),
    serviceAccountId: text('service_account_id').references(() => serviceAccounts.id, {
      onDelete: 'cascade',
    }),
    redirectUri: text('redirect_uri').notNull(),
    scope: text('scope').notNull(),
    expiresAt: tstz('expires_at').notNull(),
    usedAt: tstz('used_at'),
    /** The delivery attempt that carried this code: a newer attempt expires the older unused one. */
    deliveryId: text('delivery_id'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    check('authorization_codes_subject_check', sql`${t.subjectType} in (${oneOf(TOKEN_SUBJECTS)})`),
    check(
      'authorization_codes_subject_id_check',
      sql`(${t.subjectType} = 'account' and ${t.accountId} is not null) or (${t.subjectType} = 'service_account' and ${t.serviceAccountId} is not null)`,
    ),
    index('authorization_codes_expiry_idx').on(t.expiresAt),
    // Not partial on used_at: redeeming a code then changes no indexed column, so Postgres updates it
    // in place (a HOT update, room left by the table's fillfactor, migration 0004), index untouched.
    index('authorization_codes_delivery_idx').on(t.deliveryId),
  ],
);

export type AuthorizationCode = typeof authorizationCodes.$inferSelect;
