import { and, asc, count, eq, inArray, isNull } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type Channel, channels } from '../schema/channels.js';

export type NewChannel = typeof channels.$inferInsert;

export async function insertChannel(db: DbOrTx, row: NewChannel): Promise<Channel> {
  const [created] = await db.insert(channels).values(row).returning();
  if (!created) {
    throw new Error('insert into channels returned nothing');
  }
  return created;
}

/** An Account's open Channels, oldest first. */
export async function listOpenChannels(db: DbOrTx, accountId: string): Promise<Channel[]> {
  return db
    .select()
    .from(channels)
    .where(and(eq(channels.accountId, accountId), isNull(channels.closedAt)))
    .orderBy(asc(channels.createdAt), asc(channels.id));
}

export async function countOpenChannels(db: DbOrTx, accountId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(channels)
    .where(and(eq(channels.accountId, accountId), isNull(channels.closedAt)));
  return row?.n ?? 0;
}

/** The open Channels of several Accounts (to notify them of one event each). */
export async function listOpenChannelsOf(db: DbOrTx, accountIds: string[]): Promise<Channel[]> {
  if (accountIds.length === 0) {
    return [];
  }
  return db
    .select()
    .from(channels)
    .where(and(inArray(channels.accountId, accountIds), isNull(channels.closedAt)))
    .orderBy(asc(channels.createdAt), asc(channels.id));
}

/** Closes an open Channel of this Account; false when there is none with this id. */
export async function closeChannel(db: DbOrTx, accountId: string, channelId: string): Promise<boolean> {
  const now = new Date();
  const rows = await db
    .update(channels)
    .set({ closedAt: now, updatedAt: now })
    .where(and(eq(channels.id, channelId), eq(channels.accountId, accountId), isNull(channels.closedAt)))
    .returning({ id: channels.id });
  return rows.length > 0;
}
