import { handleAccountsProvision } from './accounts-provision.job.js';
import { handleAuthorizationsProcess } from './authorizations-process.job.js';
import { JOBS, type JobEntry, type JobName } from './catalog.js';
import { handleDirectoryListPage } from './directory-list-page.job.js';
import { handleDirectorySync } from './directory-sync.job.js';
import { handleDirectorySyncFinish } from './directory-sync-finish.job.js';
import { handleDirectorySyncPage } from './directory-sync-page.job.js';
import { handleDirectorySyncSweep } from './directory-sync-sweep.job.js';
import type { Handler, JobContext } from './handler.js';
import { handleProfilesCheck } from './profiles-check.job.js';
import { handleProfilesCheckSweep } from './profiles-check-sweep.job.js';
import { handleProfilesSnapshot } from './profiles-snapshot.job.js';
import { handleRecordsRetention } from './records-retention.job.js';
import { handleRunsFinish } from './runs-finish.job.js';
import { handleRunsReconcile } from './runs-reconcile.job.js';
import { handleRunsStart } from './runs-start.job.js';
import { handleServiceAccountsCredentialExpiry } from './service-accounts-credential-expiry.job.js';
import { handleServiceAccountsHealthCheck } from './service-accounts-health-check.job.js';
import { handleServiceAccountsHealthSweep } from './service-accounts-health-sweep.job.js';
import { handleServiceAccountsPauseProfiles } from './service-accounts-pause-profiles.job.js';
import { handleTokensCleanup } from './tokens-cleanup.job.js';

/** Catalog name → handler. The compiler wants one per catalog entry; buildRegistry checks again at start. */
export const HANDLERS = {
  'authorizations.process': handleAuthorizationsProcess,
  'runs.start': handleRunsStart,
  'directory.list-page': handleDirectoryListPage,
  'accounts.provision': handleAccountsProvision,
  'runs.finish': handleRunsFinish,
  'runs.reconcile': handleRunsReconcile,
  'profiles.check-sweep': handleProfilesCheckSweep,
  'profiles.check': handleProfilesCheck,
  'service-accounts.health-sweep': handleServiceAccountsHealthSweep,
  'service-accounts.health-check': handleServiceAccountsHealthCheck,
  'service-accounts.pause-profiles': handleServiceAccountsPauseProfiles,
  'service-accounts.credential-expiry': handleServiceAccountsCredentialExpiry,
  'tokens.cleanup': handleTokensCleanup,
  'records.retention': handleRecordsRetention,
  'profiles.snapshot': handleProfilesSnapshot,
  'directory.sync-sweep': handleDirectorySyncSweep,
  'directory.sync': handleDirectorySync,
  'directory.sync-page': handleDirectorySyncPage,
  'directory.sync-finish': handleDirectorySyncFinish,
} as const satisfies { [N in JobName]: Handler<N> };

/** A catalog entry with its name and handler: what the job runner needs of a job. */
export type RegisteredJob = JobEntry & {
  name: JobName;
  handle: (payload: unknown, ctx: JobContext) => ReturnType<Handler<JobName>>;
};

/**
 * Name → catalog entry + handler. Refuses (throws) a catalog entry without a handler and a handler
 * without a catalog entry, so a worker never starts with a job it cannot run or one nobody can queue.
 */
export function buildRegistry(
  handlers: Readonly<Record<string, unknown>> = HANDLERS,
  catalog: Readonly<Record<string, JobEntry>> = JOBS,
): Map<string, RegisteredJob> {
  const registry = new Map<string, RegisteredJob>();
  for (const [name, entry] of Object.entries(catalog)) {
    const handle = handlers[name];
    if (typeof handle !== 'function') {
      throw new Error(`Job "${name}" is in the catalog but has no handler`);
    }
    registry.set(name, { ...entry, name: name as JobName, handle: handle as RegisteredJob['handle'] });
  }
  for (const name of Object.keys(handlers)) {
    if (!Object.hasOwn(catalog, name)) {
      throw new Error(`Handler "${name}" has no catalog entry`);
    }
  }
  return registry;
}
