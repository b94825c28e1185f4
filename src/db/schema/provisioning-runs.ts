import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import type { RunInclude } from '../../lib/provisioning.js';
import type { StoredSelection } from '../../lib/selection.js';
import { applications } from './applications.js';
import { idColumn, lifecycleDates, oneOf, tstz } from './columns.js';
import { serviceAccounts } from './service-accounts.js';

export const RUN_STATUSES = [
  'queued',
  'listing',
  'provisioning',
  'completed',
  'completed_with_errors',
  'cancelled',
  'failed',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** The statuses of a run still at work (listing or provisioning); every other status is final. */
export const ACTIVE_RUN_STATUSES = [
  'queued',
  'listing',
  'provisioning',
] as const satisfies readonly RunStatus[];
export type ActiveRunStatus = (typeof ACTIVE_RUN_STATUSES)[number];
export const isActiveRunStatus = (status: string): status is ActiveRunStatus =>
  (ACTIVE_RUN_STATUSES as readonly string[]).includes(status);

export const VERIFY_STRATEGIES = ['mailbox', 'directory'] as const;
export type VerifyStrategy = (typeof VERIFY_STRATEGIES)[number];

/** Skipped and failed items of a run by `"<status>:<error_key>"`. */
export type ReasonCounts = Record<string, number>;

/** Where directory listing stands, per kind: the next page's cursor, or done. Survives restarts. */
export type RunCursor = Partial<
  Record<RunInclude, { pageToken: string | null; done: boolean; pages: number }>
>;

/**
 * A provisioning run (`run_…`): one onboarding of a Service Account's directory. Counts are kept exact
 * in the same transactions that change item statuses.
 */
export const provisioningRuns = pgTable(
  'provisioning_runs',
  {
    id: idColumn(),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id, { onDelete: 'cascade' }),
    serviceAccountId: text('service_account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    status: text('status').$type<RunStatus>().notNull().default('queued'),
    include: text('include').array().$type<RunInclude[]>().notNull(),
    verify: text('verify').$type<VerifyStrategy>().notNull().default('mailbox'),
    dryRun: boolean('dry_run').notNull().default(false),
    callbackUrl: text('callback_url'),
    scope: text('scope').notNull(),
    state: text('state'),
    /** The part of the directory this run lists (lib/selection.ts); null: all of it. */
    selection: jsonb('selection').$type<StoredSelection>(),
    cursor: jsonb('cursor').$type<RunCursor>().notNull().default({}),
    listed: integer('listed').notNull().default(0),
    provisioned: integer('provisioned').notNull().default(0),
    skipped: integer('skipped').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    /**
     * The skipped and failed items by reason, `"<status>:<error_key>"` → count, kept with the counts in
     * the same statements, so a run's status reads them off its row instead of grouping its items.
     */
    reasonCounts: jsonb('reason_counts').$type<ReasonCounts>().notNull().default({}),
    error: text('error'),
    startedAt: tstz('started_at'),
    finishedAt: tstz('finished_at'),
    ...lifecycleDates,
  },
  (t) => [
    check('provisioning_runs_status_check', sql`${t.status} in (${oneOf(RUN_STATUSES)})`),
    check('provisioning_runs_verify_check', sql`${t.verify} in (${oneOf(VERIFY_STRATEGIES)})`),
    check(
      'provisioning_runs_counts_check',
      sql`${t.listed} >= 0 and ${t.provisioned} >= 0 and ${t.skipped} >= 0 and ${t.failed} >= 0`,
    ),
    index('provisioning_runs_sa_idx').on(t.serviceAccountId, t.createdAt),
    index('provisioning_runs_active_idx')
      .on(t.updatedAt)
      .where(sql`${t.status} in (${oneOf(ACTIVE_RUN_STATUSES)})`),
  ],
);

export type ProvisioningRun = typeof provisioningRuns.$inferSelect;
