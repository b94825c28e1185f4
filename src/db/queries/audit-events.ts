import type { DbOrTx } from '../client.js';
import { auditEvents } from '../schema/audit-events.js';

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
