import { getTableColumns, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { deterministicDbErrorCode } from '../errors.js';
import { preparedFor } from '../prepared.js';
import { directoryEntries } from '../schema/directory-entries.js';
import { tableRows } from './json-rows.js';

export type EntryInput = typeof directoryEntries.$inferInsert;

/** Upserts a page of directory entries; returns id and email_lower of each. */
/** What a listing or sync refreshes on an entry it sees again (as the provider has it now). */
const REFRESHED_COLUMNS = [
  'kind',
  'email',
  'provider_id',
  'name',
  'suspended',
  'has_mailbox',
  'capacity',
  'building',
  'floor',
  'resource_type',
  'last_seen_at',
];

/** Upserts a page of directory entries (one JSON parameter for the page); returns id and email_lower of each. */
export async function upsertDirectoryEntries(
  db: DbOrTx,
  rows: EntryInput[],
): Promise<{ id: string; emailLower: string }[]> {
  if (rows.length === 0) {
    return [];
  }
  const refreshed = sql.raw(REFRESHED_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', '));
  const source = tableRows(directoryEntries, rows);
  if (!source) {
    return db
      .insert(directoryEntries)
      .values(rows)
      .onConflictDoUpdate({
        target: [directoryEntries.serviceAccountId, directoryEntries.emailLower],
        set: {
          removedAt: null,
          updatedAt: new Date(),
          ...Object.fromEntries(
            Object.entries(getTableColumns(directoryEntries))
              .filter(([, c]) => REFRESHED_COLUMNS.includes(c.name))
              .map(([k, c]) => [k, sql.raw(`excluded.${c.name}`)]),
          ),
        },
      })
      .returning({ id: directoryEntries.id, emailLower: directoryEntries.emailLower });
  }
  const stored = await db.execute<{ id: string; email_lower: string }>(sql`
    insert into directory_entries ${source}
    on conflict (service_account_id, email_lower) do update set
      ${refreshed}, removed_at = null, updated_at = now()
    returning id, email_lower`);
  return stored.map((r) => ({ id: r.id, emailLower: r.email_lower }));
}

const entriesByIds = preparedFor((db) =>
  db
    .select()
    .from(directoryEntries)
    .where(sql`${directoryEntries.id} = any(${sql.placeholder('ids')}::text[])`)
    .prepare('find_directory_entries'),
);

export async function findEntries(db: DbOrTx, ids: string[]) {
  if (ids.length === 0) {
    return [];
  }
  return entriesByIds(db).execute({ ids });
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
