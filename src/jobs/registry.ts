import type { z } from 'zod';
import { accountsProvision } from './accounts-provision.job.js';
import { authorizeMailbox } from './authorize-mailbox.job.js';
import type { JobDefinition } from './define-job.js';
import { directoryListPage } from './directory-list-page.job.js';
import { directorySyncFinish } from './directory-sync-finish.job.js';
import { directorySyncPage } from './directory-sync-page.job.js';
import { directorySync } from './directory-sync-start.job.js';
import { directorySyncSweep } from './directory-sync-sweep.job.js';
import { profilesCheck } from './profiles-check.job.js';
import { profilesCheckSweep } from './profiles-check-sweep.job.js';
import { runFinish } from './run-finish.job.js';
import { runStart } from './run-start.job.js';
import { runsReconcile } from './runs-reconcile.job.js';
import { serviceAccountsHealthCheck } from './service-accounts-health-check.job.js';
import { serviceAccountsHealthSweep } from './service-accounts-health-sweep.job.js';
import { serviceAccountsPauseProfiles } from './service-accounts-pause-profiles.job.js';
import { tokensCleanup } from './tokens-cleanup.job.js';

/** Every job the workers know. Adding a job = adding its file and one line here. */
export const JOBS = [
  authorizeMailbox,
  runStart,
  directoryListPage,
  accountsProvision,
  runFinish,
  runsReconcile,
  profilesCheckSweep,
  profilesCheck,
  serviceAccountsHealthSweep,
  serviceAccountsHealthCheck,
  serviceAccountsPauseProfiles,
  tokensCleanup,
  directorySyncSweep,
  directorySync,
  directorySyncPage,
  directorySyncFinish,
] as const;

type AnyJob = (typeof JOBS)[number];
export type JobName = AnyJob['name'];
export type JobPayload<N extends JobName> = z.input<Extract<AnyJob, { name: N }>['payload']>;

/** Name → definition; refuses to start with two jobs of one name. */
export function buildRegistry(
  jobs: readonly JobDefinition[] = JOBS as unknown as JobDefinition[],
): Map<string, JobDefinition> {
  const registry = new Map<string, JobDefinition>();
  for (const job of jobs) {
    if (registry.has(job.name)) {
      throw new Error(`Job "${job.name}" is defined twice`);
    }
    registry.set(job.name, job);
  }
  return registry;
}
