import type { Config } from '../config.js';
import type { JobName } from '../jobs/catalog.js';

/**
 * One recurring job: `every` milliseconds, or a cron `pattern` (in `tz`, default UTC). The id is the
 * BullMQ job scheduler id; an id no longer listed here is removed when a scheduler process starts.
 */
export type Schedule = { id: string; job: JobName } & (
  | { everyMs: number }
  | { pattern: string; tz?: string }
);

/** How often the reconciler looks for lost queue work. */
export const RECONCILE_EVERY_MS = 60_000;

/** How often expired codes and tokens are deleted. */
export const TOKEN_CLEANUP_EVERY_MS = 3_600_000;

/** How often old deliveries, run items and audit events are deleted (RETENTION_DAYS, AUDIT_RETENTION_DAYS). */
export const RETENTION_EVERY_MS = 86_400_000;

/** How often today's Profile counts per Service Account are taken (the last of a day is kept). */
export const PROFILE_SNAPSHOT_EVERY_MS = 3_600_000;

/** How often credential end dates are looked at (and expiry notifications sent). */
export const CREDENTIAL_EXPIRY_EVERY_MS = 3_600_000;

/**
 * The recurring sweeps (DESIGN §7). Data only: `ec scheduler` registers exactly these. Each sweep
 * reads a bounded batch of due rows and fans out one job per Profile or Service Account.
 */
export function schedules(s: Config['scheduler']): Schedule[] {
  return [
    { id: 'profiles.check-sweep', job: 'profiles.check-sweep', everyMs: s.sweepIntervalSecs * 1000 },
    {
      id: 'service-accounts.health-sweep',
      job: 'service-accounts.health-sweep',
      everyMs: s.sweepIntervalSecs * 1000,
    },
    // Claims the Service Accounts whose sync (every DIRECTORY_SYNC_INTERVAL_SECONDS) is due.
    { id: 'directory.sync-sweep', job: 'directory.sync-sweep', everyMs: s.sweepIntervalSecs * 1000 },
    { id: 'tokens.cleanup', job: 'tokens.cleanup', everyMs: TOKEN_CLEANUP_EVERY_MS },
    { id: 'records.retention', job: 'records.retention', everyMs: RETENTION_EVERY_MS },
    {
      id: 'service-accounts.credential-expiry',
      job: 'service-accounts.credential-expiry',
      everyMs: CREDENTIAL_EXPIRY_EVERY_MS,
    },
    { id: 'profiles.snapshot', job: 'profiles.snapshot', everyMs: PROFILE_SNAPSHOT_EVERY_MS },
    // Puts back queue work Postgres says is unfinished (stalled runs, pending authorization requests).
    { id: 'runs.reconcile', job: 'runs.reconcile', everyMs: RECONCILE_EVERY_MS },
  ];
}
