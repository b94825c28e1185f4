import { index, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { idColumn, tstz } from './columns.js';

/**
 * Who did what, when: Application and Service Account changes, secret rotations, revocations, key
 * rotations. Never holds a secret.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: idColumn(),
    applicationId: text('application_id'),
    /** `cli`, `system`, `api:<client_id>`, `admin`. */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('audit_events_subject_idx').on(t.subjectId, t.createdAt),
    index('audit_events_created_idx').on(t.createdAt),
    /** One Application's events, newest first (`GET /v1/audit_events`). */
    index('audit_events_application_idx').on(t.applicationId, t.createdAt, t.id),
  ],
);

export type AuditEvent = typeof auditEvents.$inferSelect;
