import { sql } from 'drizzle-orm';
import { check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { accounts } from './accounts.js';
import { idColumn, oneOf, tstz } from './columns.js';
import { serviceAccounts } from './service-accounts.js';

export const TOKEN_KINDS = ['access', 'refresh'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** Whose token it is: an Account's (`sub: acc_…`) or a Service Account's. */
export const TOKEN_SUBJECTS = ['account', 'service_account'] as const;
export type TokenSubject = (typeof TOKEN_SUBJECTS)[number];

/**
 * Access and refresh tokens issued by this service. Only the SHA-256 hash is stored; `grant_id` ties
 * an access token to the refresh token it came from, so revoking one revokes the grant.
 */
export const tokens = pgTable(
  'tokens',
  {
    id: idColumn(),
    /** Not a foreign key: the subject's (an Account or a Service Account, whose keys cascade from the Application). */
    applicationId: text('application_id').notNull(),
    kind: text('kind').$type<TokenKind>().notNull(),
    subjectType: text('subject_type').$type<TokenSubject>().notNull(),
    accountId: text('account_id').references(() => accounts.id, { onDelete: 'cascade' }),
    serviceAccountId: text('service_account_id').references(() => serviceAccounts.id, {
      onDelete: 'cascade',
    }),
    grantId: text('grant_id').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    scope: text('scope').notNull(),
    /** Null for refresh tokens that do not expire. */
    expiresAt: tstz('expires_at'),
    revokedAt: tstz('revoked_at'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    check('tokens_kind_check', sql`${t.kind} in (${oneOf(TOKEN_KINDS)})`),
    check('tokens_subject_check', sql`${t.subjectType} in (${oneOf(TOKEN_SUBJECTS)})`),
    check(
      'tokens_subject_id_check',
      sql`(${t.subjectType} = 'account' and ${t.accountId} is not null) or (${t.subjectType} = 'service_account' and ${t.serviceAccountId} is not null)`,
    ),
    index('tokens_grant_idx').on(t.grantId),
    // A token has one subject: each index holds only the tokens of its kind of subject.
    index('tokens_account_idx').on(t.accountId).where(sql`${t.accountId} is not null`),
    index('tokens_service_account_idx').on(t.serviceAccountId).where(sql`${t.serviceAccountId} is not null`),
    index('tokens_expiry_idx').on(t.expiresAt).where(sql`${t.expiresAt} is not null`),
  ],
);

export type Token = typeof tokens.$inferSelect;
