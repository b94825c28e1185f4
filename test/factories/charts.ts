import type { DbOrTx } from '../../src/db/client.js';
import { type ProfileStateDay, profileStateDays } from '../../src/db/schema/profile-state-days.js';
import { type RunProviderCalls, runProviderCalls } from '../../src/db/schema/run-provider-calls.js';

/** A run's provider calls in one 10-second slot (defaults: now's slot, google.calendar, 1 call). */
export async function createRunProviderCalls(
  db: DbOrTx,
  runId: string,
  overrides: Partial<typeof runProviderCalls.$inferInsert> = {},
): Promise<RunProviderCalls> {
  const [row] = await db
    .insert(runProviderCalls)
    .values({
      runId,
      at: new Date(Math.floor(Date.now() / 10_000) * 10_000),
      api: 'google.calendar',
      calls: 1,
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}

/** One day's Profile counts of a Service Account (default: today, 1 connected). */
export async function createProfileStateDay(
  db: DbOrTx,
  serviceAccountId: string,
  overrides: Partial<typeof profileStateDays.$inferInsert> = {},
): Promise<ProfileStateDay> {
  const [row] = await db
    .insert(profileStateDays)
    .values({
      serviceAccountId,
      day: new Date().toISOString().slice(0, 10),
      connected: 1,
      disconnected: 0,
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}
