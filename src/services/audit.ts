import { z } from 'zod';
import { type AuditEventInput, insertAuditEvent, searchAuditEvents } from '../db/queries/audit-events.js';
import { findDelivery } from '../db/queries/deliveries.js';
import { findRun } from '../db/queries/runs.js';
import type { AuditEvent } from '../db/schema/audit-events.js';
import { newId } from '../lib/ids.js';
import type { AppContext } from './context.js';

/**
 * The audit log: who registered, changed, revoked, retried or cancelled what, and when. Read by
 * `GET /v1/audit_events` (one Application's events only) and /admin (every event); written by the
 * services that change things and by the dashboard's actions.
 */

export const AUDIT_MAX_PAGE = 500;
const CURSOR = /^(\d{1,17})\.([a-z]{3}_[a-z2-7]{26})$/;

/** `type` is the action (`service_account.created`); `object_type`/`object_id` what it was done to. */
export const auditQuerySchema = z.object({
  type: z
    .string()
    .regex(/^[a-z0-9_.:-]{1,100}$/, 'must be an event type, e.g. service_account.created')
    .optional(),
  object_type: z
    .string()
    .regex(/^[a-z0-9_]{1,64}$/, 'must be an object type, e.g. service_account')
    .optional(),
  object_id: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(200).optional(),
  from: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z' })
    .optional(),
  to: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z' })
    .optional(),
  cursor: z.string().regex(CURSOR, 'must be a cursor returned by a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(AUDIT_MAX_PAGE).default(100),
});

export type AuditQuery = z.infer<typeof auditQuerySchema>;

export function auditEventJson(e: AuditEvent) {
  return {
    id: e.id,
    type: e.action,
    actor: e.actor,
    object: { type: e.subjectType, id: e.subjectId },
    data: e.data,
    created_at: e.createdAt.toISOString(),
  };
}

export type AuditPage = { events: AuditEvent[]; nextCursor: string | null };

/**
 * A page of events, newest first. `applicationId` set: that Application's events only (the API);
 * undefined: everyone's (the dashboard).
 */
export async function auditEventsPage(
  app: AppContext,
  applicationId: string | undefined,
  q: AuditQuery,
): Promise<AuditPage> {
  const m = q.cursor ? CURSOR.exec(q.cursor) : null;
  const rows = await searchAuditEvents(app.db, {
    applicationId,
    action: q.type,
    subjectType: q.object_type,
    subjectId: q.object_id,
    actor: q.actor,
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
    before: m?.[1] && m[2] ? { micros: m[1], id: m[2] } : undefined,
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    events: page.map((r) => r.event),
    nextCursor: rows.length > q.limit && last ? `${last.micros}.${last.event.id}` : null,
  };
}

/** Records one event (never a secret in `data`). */
export async function recordAuditEvent(app: AppContext, event: Omit<AuditEventInput, 'id'>): Promise<void> {
  await insertAuditEvent(app.db, { id: newId('audit'), ...event });
}

/** What a dashboard action did, as the dashboard route tells it. */
export type AdminAction = {
  action: string;
  subjectType: string;
  subjectId: string;
  data: Record<string, unknown>;
};

/**
 * Records a dashboard action under the Application whose object it touched (so the Application sees
 * it in `GET /v1/audit_events` too); `actor` is `admin` (whoever holds ADMIN_TOKEN).
 */
export async function recordAdminAction(app: AppContext, a: AdminAction): Promise<void> {
  await recordActionOn(app, 'admin', a);
}

/** An action on a run or delivery, recorded under the Application it belongs to. */
export async function recordActionOn(app: AppContext, actor: string, a: AdminAction): Promise<void> {
  let applicationId: string | null = null;
  if (a.subjectType === 'provisioning_run') {
    applicationId = (await findRun(app.db, a.subjectId))?.applicationId ?? null;
  } else if (a.subjectType === 'delivery') {
    applicationId = (await findDelivery(app.db, a.subjectId))?.applicationId ?? null;
  }
  await recordAuditEvent(app, { applicationId, actor, ...a });
}

/** A run retried or cancelled by `actor` (the CLI, the API), with what it did (`requeued`, `cancelled`). */
export async function recordRunAction(
  app: AppContext,
  run: { id: string; applicationId: string },
  action: 'run.retried' | 'run.cancelled',
  actor: string,
  data: Record<string, unknown>,
): Promise<void> {
  await recordAuditEvent(app, {
    applicationId: run.applicationId,
    actor,
    action,
    subjectType: 'provisioning_run',
    subjectId: run.id,
    data,
  });
}
