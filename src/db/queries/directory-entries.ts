import { inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { deterministicDbErrorCode } from '../errors.js';
import { directoryEntries } from '../schema/directory-entries.js';

export type EntryInput = typeof directoryEntries.$inferInsert;

/** Upserts a page of directory entries; returns id and email_lower of each. */
export async function upsertDirectoryEntries(
  db: DbOrTx,
  rows: EntryInput[],
): Promise<{ id: string; emailLower: string }[]> {
  if (rows.length === 0) {
    return [];
  }
  return db
    .insert(directoryEntries)
    .values(rows)
    .onConflictDoUpdate({
      target: [directoryEntries.serviceAccountId, directoryEntries.emailLower],
      set: {
        kind: sql`excluded.kind`,
        email: sql`excluded.email`,
        providerId: sql`excluded.provider_id`,
        name: sql`excluded.name`,
        suspended: sql`excluded.suspended`,
        hasMailbox: sql`excluded.has_mailbox`,
        capacity: sql`excluded.capacity`,
        building: sql`excluded.building`,
        floor: sql`excluded.floor`,
        resourceType: sql`excluded.resource_type`,
        lastSeenAt: sql`excluded.last_seen_at`,
        removedAt: null,
        updatedAt: new Date(),
      },
    })
    .returning({ id: directoryEntries.id, emailLower: directoryEntries.emailLower });
}

export async function findEntries(db: DbOrTx, ids: string[]) {
  if (ids.length === 0) {
    return [];
  }
  return db.select().from(directoryEntries).where(inArray(directoryEntries.id, ids));
}

class ProbeDone extends Error {}

/**
 * Which of `rows` the database refuses for good (deterministicDbErrorCode: text it cannot store, a
 * value too long for an index), by upserting each alone in a savepoint that is always rolled back:
 * nothing is written. Returns the refused rows' email_lower with the Postgres error code. Used after
 * a page's write was refused, so that one bad entry never fails its page.
 */
export async function findRefusedEntries(db: DbOrTx, rows: EntryInput[]): Promise<Map<string, string>> {
  const refused = new Map<string, string>();
  await db
    .transaction(async (tx) => {
      for (const row of rows) {
        try {
          await tx.transaction(async (sp) => {
            await upsertDirectoryEntries(sp, [row]);
            throw new ProbeDone();
          });
        } catch (err) {
          if (err instanceof ProbeDone) {
            continue;
          }
          const code = deterministicDbErrorCode(err);
          if (code === undefined) {
            throw err;
          }
          refused.set(row.emailLower, code);
        }
      }
      throw new ProbeDone();
    })
    .catch((err: unknown) => {
      if (!(err instanceof ProbeDone)) {
        throw err;
      }
    });
  return refused;
}
