import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { applications } from './applications.js';
import { idColumn, lifecycleDates, oneOf, tstz } from './columns.js';

export const DELIVERY_KINDS = ['callback', 'notification'] as const;
export type DeliveryKind = (typeof DELIVERY_KINDS)[number];

/** `cancelled`: its Account or Service Account was revoked before it could be sent; never sent. */
export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead', 'cancelled'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * Outbound POSTs (authorization callbacks, push notifications) with their attempts: an outbox that
 * workers claim by lease (`next_attempt_at` moves forward while an attempt is in flight). A callback's
 * body never holds a code: when `code_scope` is set, each attempt mints a fresh single-use code for
 * `account_id` (redirect URI = `url`) and puts it into `authorization.code` just before sending. The
 * body (state, email) is stored AES-GCM encrypted; response bodies are never stored.
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
    /** Set on a callback that carries a code: the scope of the code each attempt mints. */
    codeScope: text('code_scope'),
    status: text('status').$type<DeliveryStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /**
     * How often it was claimed (an attempt may have been claimed and never recorded: its worker died).
     * A callback claimed for the first time has carried no code yet, so none needs expiring.
     */
    claims: integer('claims').notNull().default(0),
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
    index('outbound_deliveries_dead_idx').on(t.deadAt).where(sql`${t.status} = 'dead'`),
    // The claim: per Application, the due deliveries in order (fair across Applications).
    index('outbound_deliveries_claim_idx')
      .on(t.applicationId, t.nextAttemptAt)
      .where(sql`${t.status} = 'pending'`),
    index('outbound_deliveries_run_pending_idx').on(t.runId).where(sql`${t.status} = 'pending'`),
  ],
);

export type OutboundDelivery = typeof outboundDeliveries.$inferSelect;
