import { integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { tstz } from './columns.js';
import { provisioningRuns } from './provisioning-runs.js';

/**
 * Provider calls a provisioning run made, per 10-second slot and API (`google.calendar`, …): what its
 * page on /admin draws against the quota. One upsert per batch or directory page adds to a row, never one
 * per call; the rows go with their run.
 */
export const runProviderCalls = pgTable(
  'run_provider_calls',
  {
    runId: text('run_id')
      .notNull()
      .references(() => provisioningRuns.id, { onDelete: 'cascade' }),
    /** The start of the 10-second slot the calls were counted in. */
    at: tstz('at').notNull(),
    api: text('api').notNull(),
    calls: integer('calls').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.runId, t.at, t.api] })],
);

export type RunProviderCalls = typeof runProviderCalls.$inferSelect;
