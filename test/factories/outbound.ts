import type { DbOrTx } from '../../src/db/client.js';
import { aadOf } from '../../src/db/queries/encrypted-columns.js';
import { type AuditEvent, auditEvents } from '../../src/db/schema/audit-events.js';
import { type Channel, channels } from '../../src/db/schema/channels.js';
import { type OutboundDelivery, outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import type { Keyring } from '../../src/lib/crypto.js';
import { newId } from '../../src/lib/ids.js';

export async function createChannel(
  db: DbOrTx,
  account: { id: string; applicationId: string },
  overrides: Partial<typeof channels.$inferInsert> = {},
): Promise<Channel> {
  const [row] = await db
    .insert(channels)
    .values({
      id: newId('channel'),
      applicationId: account.applicationId,
      accountId: account.id,
      callbackUrl: 'https://app.example.com/notifications',
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}

export async function createOutboundDelivery(
  db: DbOrTx,
  keyring: Keyring,
  applicationId: string,
  overrides: Partial<typeof outboundDeliveries.$inferInsert> & { body?: unknown } = {},
): Promise<OutboundDelivery> {
  const { body, ...rest } = overrides;
  const id = rest.id ?? newId('delivery');
  const [row] = await db
    .insert(outboundDeliveries)
    .values({
      id,
      applicationId,
      kind: 'callback',
      url: 'https://app.example.com/callback',
      bodyEncrypted: keyring.encrypt(
        JSON.stringify(body ?? { authorization: { code: 'c', state: 's' } }),
        aadOf('outbound_deliveries', id),
      ),
      nextAttemptAt: new Date(),
      ...rest,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}

export async function createAuditEvent(
  db: DbOrTx,
  overrides: Partial<typeof auditEvents.$inferInsert> = {},
): Promise<AuditEvent> {
  const [row] = await db
    .insert(auditEvents)
    .values({
      id: newId('audit'),
      actor: 'test',
      action: 'test.event',
      subjectType: 'test',
      subjectId: 'x',
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}
