import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { applications } from './applications.js';
import { lifecycleDates, tstz } from './columns.js';

/**
 * Client secrets of an Application. Stored twice, never in plain text: a SHA-256 hash to authenticate
 * requests by lookup, and AES-GCM ciphertext because outbound POSTs are signed with the secret itself
 * (`Cronofy-HMAC-SHA256`, one signature per active secret).
 */
export const applicationSecrets = pgTable(
  'application_secrets',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    secretHash: text('secret_hash').notNull().unique(),
    secretEncrypted: text('secret_encrypted').notNull(),
    /** Set when the secret stops being accepted and stops signing. */
    revokedAt: tstz('revoked_at'),
    ...lifecycleDates,
  },
  (t) => [index('application_secrets_application_idx').on(t.applicationId)],
);

export type ApplicationSecret = typeof applicationSecrets.$inferSelect;
