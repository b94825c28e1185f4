import { sql } from 'drizzle-orm';
import { check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { applications } from './applications.js';
import { idColumn, lifecycleDates, oneOf } from './columns.js';
import { serviceAccounts } from './service-accounts.js';

export const AUTHORIZATION_REQUEST_STATUSES = ['pending', 'done'] as const;
export type AuthorizationRequestStatus = (typeof AUTHORIZATION_REQUEST_STATUSES)[number];

/**
 * One email of a `POST /v1/service_account_authorizations` (`azr_…`), recorded before the request is
 * answered: the queue only carries its id, so a lost job (Redis flush, a crash between commit and
 * enqueue) is re-queued from here. `request_key` identifies the same ask (Service Account, email,
 * callback URL, scope, state), so a client re-posting after a timeout does not start it twice.
 */
export const authorizationRequests = pgTable(
  'authorization_requests',
  {
    id: idColumn(),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    serviceAccountId: text('service_account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    callbackUrl: text('callback_url').notNull(),
    scope: text('scope').notNull(),
    state: text('state'),
    requestKey: text('request_key').notNull(),
    status: text('status').$type<AuthorizationRequestStatus>().notNull().default('pending'),
    ...lifecycleDates,
  },
  (t) => [
    check(
      'authorization_requests_status_check',
      sql`${t.status} in (${oneOf(AUTHORIZATION_REQUEST_STATUSES)})`,
    ),
    index('authorization_requests_key_idx').on(t.requestKey, t.createdAt),
    index('authorization_requests_pending_idx').on(t.updatedAt).where(sql`${t.status} = 'pending'`),
  ],
);

export type AuthorizationRequestRow = typeof authorizationRequests.$inferSelect;
