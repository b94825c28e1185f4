import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { calendars } from '../schema/calendars.js';

export type NewCalendar = Pick<
  typeof calendars.$inferInsert,
  'id' | 'profileId' | 'accountId' | 'providerCalendarId' | 'name' | 'readonly' | 'primary'
>;

/** Inserts Calendars or updates (and undeletes) the ones a Profile already has, in one statement. */
export async function upsertCalendars(tx: DbOrTx, rows: NewCalendar[]): Promise<void> {
  if (rows.length === 0) {
    return;
  }
  await tx
    .insert(calendars)
    .values(rows)
    .onConflictDoUpdate({
      target: [calendars.profileId, calendars.providerCalendarId],
      set: {
        name: sql`excluded.name`,
        readonly: sql`excluded.readonly`,
        primary: sql`excluded.is_primary`,
        deletedAt: null,
        updatedAt: new Date(),
      },
    });
}
