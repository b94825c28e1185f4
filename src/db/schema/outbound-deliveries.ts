import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { applications } from './applications.js';
import { idColumn, lifecycleDates, oneOf, tstz } from './columns.js';

export const DELIVERY_KINDS = ['callback', 'notification'] as const;
export type DeliveryKind = (typeof DELIVERY_KINDS)[number];

export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * Outbound POSTs (authorization callbacks, push notifications) with their attempts. The body can hold
 * an authorization code, so it is stored AES-GCM encrypted; response bodies are never stored.
 */
export const outboundDeliveries = pgTable(
  'outbound_deliveries',
  {
    id: idColumn(),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<DeliveryKind>().notNull(),
    url: text('url').notNull(),
    bodyEncrypted: text('body_encrypted').notNull(),
    /** What the delivery is about, for the dashboard (run, Account, Channel ids). */
    runId: text('run_id'),
    accountId: text('account_id'),
    channelId: text('channel_id'),
    status: text('status').$type<DeliveryStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    nextAttemptAt: tstz('next_attempt_at'),
    deliveredAt: tstz('delivered_at'),
    deadAt: tstz('dead_at'),
    ...lifecycleDates,
  },
  (t) => [
    check('outbound_deliveries_kind_check', sql`${t.kind} in (${oneOf(DELIVERY_KINDS)})`),
    check('outbound_deliveries_status_check', sql`${t.status} in (${oneOf(DELIVERY_STATUSES)})`),
    index('outbound_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('outbound_deliveries_dead_idx').on(t.deadAt).where(sql`${t.status} = 'dead'`),
    index('outbound_deliveries_application_idx').on(t.applicationId, t.createdAt),
  ],
);

export type OutboundDelivery = typeof outboundDeliveries.$inferSelect;
