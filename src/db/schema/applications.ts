import { sql } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { idColumn, lifecycleDates } from './columns.js';

/**
 * An Application: a client of this service. `client_id` is public; its secrets live in
 * application_secrets (more than one may be active while a rotation is under way).
 */
export const applications = pgTable('applications', {
  id: idColumn(),
  name: text('name').notNull(),
  clientId: text('client_id').notNull().unique(),
  /** Exact redirect URIs allowed in the authorize flow and code exchanges. */
  redirectUris: text('redirect_uris').array().notNull().default(sql`'{}'::text[]`),
  /** API requests per minute for this Application; null means `API_RATE_LIMIT_PER_MINUTE`. */
  rateLimitPerMinute: integer('rate_limit_per_minute'),
  ...lifecycleDates,
});

export type Application = typeof applications.$inferSelect;
