import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type AuditEvent, auditEvents } from '../schema/audit-events.js';

export type AuditEventInput = {
  id: string;
  applicationId?: string | null;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  data?: Record<string, unknown>;
};

export async function insertAuditEvent(db: DbOrTx, event: AuditEventInput): Promise<void> {
  await db.insert(auditEvents).values({ ...event, data: event.data ?? {} });
}

export type AuditEventSearch = {
  /** One Application's events only; omitted (the dashboard): every Application's and the system's. */
  applicationId?: string | undefined;
  /** Exact action, e.g. `service_account.created`. */
  action?: string | undefined;
  subjectType?: string | undefined;
  subjectId?: string | undefined;
  actor?: string | undefined;
  /** `created_at >= from` and `created_at < to`. */
  from?: Date | undefined;
  to?: Date | undefined;
  /** The last event of the previous page (newest first): its `micros` and id. */
  before?: { micros: string; id: string } | undefined;
  limit: number;
};

/**
 * An event and its `created_at` in microseconds since the epoch (a JS Date holds only milliseconds;
 * a cursor made from one would skip events recorded in the same millisecond).
 */
export type PagedAuditEvent = { event: AuditEvent; micros: string };

/** Audit events, newest first, keyset-paged on (created_at, id) (audit_events_application_idx). */
export async function searchAuditEvents(db: DbOrTx, q: AuditEventSearch): Promise<PagedAuditEvent[]> {
  return db
    .select({
      event: auditEvents,
      micros: sql<string>`(extract(epoch from ${auditEvents.createdAt}) * 1000000)::bigint::text`,
    })
    .from(auditEvents)
    .where(
      and(
        q.applicationId === undefined ? undefined : eq(auditEvents.applicationId, q.applicationId),
        q.action ? eq(auditEvents.action, q.action) : undefined,
        q.subjectType ? eq(auditEvents.subjectType, q.subjectType) : undefined,
        q.subjectId ? eq(auditEvents.subjectId, q.subjectId) : undefined,
        q.actor ? eq(auditEvents.actor, q.actor) : undefined,
        q.from ? gte(auditEvents.createdAt, q.from) : undefined,
        q.to ? lt(auditEvents.createdAt, q.to) : undefined,
        q.before
          ? sql`(${auditEvents.createdAt}, ${auditEvents.id}) < (timestamptz 'epoch' + (${q.before.micros} || ' microseconds')::interval, ${q.before.id})`
          : undefined,
      ),
    )
    .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
    .limit(q.limit);
}
