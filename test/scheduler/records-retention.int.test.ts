import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditEvents } from '../../src/db/schema/audit-events.js';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { runItems } from '../../src/db/schema/run-items.js';
import { deleteOldRecords } from '../../src/services/retention.js';
import {
  createAuditEvent,
  createOutboundDelivery,
  createProvisioningRun,
  createRunItem,
  createServiceAccount,
} from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { eventually } from './helpers.js';

const t = useTestApp({ workers: true, env: { RETENTION_DAYS: '30', AUDIT_RETENTION_DAYS: '365' } });

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms);

async function seed() {
  const db = t.runtime.app.db;
  const keyring = t.runtime.app.keyring;
  const sa = await createServiceAccount(db, keyring);
  const delivery = (o: Parameters<typeof createOutboundDelivery>[3]) =>
    createOutboundDelivery(db, keyring, sa.applicationId, o).then((d) => d.id);
  const oldFinished = await createProvisioningRun(db, sa, { status: 'completed', finishedAt: ago(40 * DAY) });
  const newFinished = await createProvisioningRun(db, sa, { status: 'completed', finishedAt: ago(2 * DAY) });
  const active = await createProvisioningRun(db, sa, { status: 'provisioning', updatedAt: ago(40 * DAY) });
  return {
    dropDeliveries: [
      await delivery({ status: 'delivered', deliveredAt: ago(40 * DAY), updatedAt: ago(40 * DAY) }),
      await delivery({ status: 'cancelled', nextAttemptAt: null, updatedAt: ago(31 * DAY) }),
    ],
    keepDeliveries: [
      await delivery({ status: 'delivered', deliveredAt: ago(DAY), updatedAt: ago(DAY) }),
      await delivery({ status: 'dead', deadAt: ago(40 * DAY), updatedAt: ago(40 * DAY) }),
      await delivery({ status: 'pending', updatedAt: ago(40 * DAY) }),
    ],
    dropItems: [
      (await createRunItem(db, oldFinished.id, { status: 'provisioned' })).id,
      (await createRunItem(db, oldFinished.id, { status: 'failed' })).id,
    ],
    keepItems: [
      (await createRunItem(db, newFinished.id, { status: 'provisioned' })).id,
      (await createRunItem(db, active.id, { status: 'pending' })).id,
    ],
    dropEvents: [(await createAuditEvent(db, { createdAt: ago(400 * DAY) })).id],
    keepEvents: [(await createAuditEvent(db, { createdAt: ago(40 * DAY) })).id],
  };
}

describe('records.retention', () => {
  it('deletes delivered deliveries and finished runs’ items past RETENTION_DAYS, audit events past AUDIT_RETENTION_DAYS; nothing else', async () => {
    const db = t.runtime.app.db;
    const s = await seed();
    const report = await deleteOldRecords(t.runtime.app, { batchSize: 1 });
    expect(report).toEqual({ deliveries: 2, runItems: 2, auditEvents: 1 });
    const ids = async (
      table: typeof outboundDeliveries | typeof runItems | typeof auditEvents,
      of: string[],
    ) => (await db.select({ id: table.id }).from(table).where(inArray(table.id, of))).map((r) => r.id).sort();
    expect(await ids(outboundDeliveries, [...s.dropDeliveries, ...s.keepDeliveries])).toEqual(
      [...s.keepDeliveries].sort(),
    );
    expect(await ids(runItems, [...s.dropItems, ...s.keepItems])).toEqual([...s.keepItems].sort());
    expect(await ids(auditEvents, [...s.dropEvents, ...s.keepEvents])).toEqual([...s.keepEvents].sort());
    // Idempotent.
    expect(await deleteOldRecords(t.runtime.app)).toEqual({ deliveries: 0, runItems: 0, auditEvents: 0 });
  });

  it('runs as a queued job', async () => {
    const db = t.runtime.app.db;
    const s = await seed();
    await t.runtime.app.enqueue('records.retention', {});
    await eventually(async () => {
      const left = await db
        .select({ id: auditEvents.id })
        .from(auditEvents)
        .where(inArray(auditEvents.id, s.dropEvents));
      return left.length === 0;
    }, 'the queued retention job');
  });
});
