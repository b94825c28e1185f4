import { insertAuditEvent } from '../db/queries/audit-events.js';
import {
  accountsPastGrace,
  claimDirectorySync,
  claimDueDirectorySyncs,
  endDirectorySync,
  removeUnlistedEntries,
} from '../db/queries/directory-sync.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { isAppError } from '../errors.js';
import { type Effects, jobRequest } from '../jobs/catalog.js';
import { newId } from '../lib/ids.js';
import type { RunInclude } from '../lib/provisioning.js';
import type { Logger } from '../logger.js';
import { revokeAccount } from './accounts.js';
import { backoffMs } from './backoff.js';
import type { AppContext } from './context.js';
import {
  disconnectEvents,
  ENTRY_KINDS,
  firstPage,
  holdsLease,
  SYNC_KINDS,
  SYNC_LEASE_MS,
  type SyncNext,
  type SyncOptions,
  type SyncStep,
  type SyncTally,
  syncDirectoryPage,
} from './directory-sync-page.js';
import { storeProfileNotifications } from './notifications.js';
import { createRun } from './provisioning.js';
import { scopeWithin } from './scopes.js';

export {
  type PageResult,
  type PageStep,
  pageResultEffects,
  SYNC_KINDS,
  SYNC_LEASE_MS,
  type SyncStep,
  type SyncTally,
  syncDirectoryPage,
} from './directory-sync-page.js';

/**
 * Directory sync (DESIGN §7). Every DIRECTORY_SYNC_INTERVAL_SECONDS each active Service Account's
 * directory is listed again, page by page (one job per provider page, rooms then users, so memory
 * stays bounded by one page):
 * - each page's entries are stored with `last_seen_at` = the sync's start; compared with what was
 *   stored, renamed mailboxes rename their Account and primary Calendar, and suspended ones (or
 *   ones without a mailbox) disconnect their Profiles; room details are simply overwritten;
 * - after the last page, entries not listed are marked removed and their Profiles disconnected
 *   (`user_not_found`); Accounts removed or suspended for longer than the grace period are revoked;
 *   new entries are provisioned when the Service Account has `auto_provision` on.
 * A user back in the directory (or unsuspended) before the grace period ends reconnects through
 * the regular Profile check, which the sync makes due at once.
 *
 * While a sync runs, `next_directory_sync_at` is its lease: every page moves it SYNC_LEASE_MS on,
 * and every step only acts while its sync still holds it. A lost sync (job lost, retries used up)
 * is claimed again by a sweep once the lease ends and starts over from the first page.
 */

/** Service Accounts claimed per query. */
export const DIRECTORY_SWEEP_BATCH_SIZE = 100;
/** Batches per sweep: at most 1,000 syncs started per sweep; the rest wait a tick. */
export const DIRECTORY_SWEEP_MAX_BATCHES = 10;
/**
 * How long an entry may stay removed from the directory (or suspended, with its Profile
 * disconnected) before its Account is revoked: the default of each Service Account's stored
 * `removal_delay_seconds` (7 days), settable with PATCH /v1/service_accounts/{id}.
 */
export const REMOVAL_GRACE_MS = 7 * 86_400_000;
/** Accounts revoked per sync at most; the rest are revoked by the next sync. */
export const REVOKE_BATCH = 500;

/**
 * `directory.sync-sweep`: claims the active Service Accounts whose sync is due (through the
 * partial index `service_accounts_sync_due_idx`) and queues one `directory.sync` each, with a job id
 * naming the claim.
 */
export async function sweepDirectorySyncs(
  app: Pick<AppContext, 'db' | 'enqueueBulk'>,
  opts: { batchSize?: number; maxBatches?: number; signal?: AbortSignal } = {},
): Promise<{ claimed: number; batches: number }> {
  const limit = opts.batchSize ?? DIRECTORY_SWEEP_BATCH_SIZE;
  const maxBatches = opts.maxBatches ?? DIRECTORY_SWEEP_MAX_BATCHES;
  const result = { claimed: 0, batches: 0 };
  for (let batch = 0; batch < maxBatches && !opts.signal?.aborted; batch++) {
    const now = new Date();
    const leaseUntil = new Date(now.getTime() + SYNC_LEASE_MS);
    const ids = await claimDueDirectorySyncs(app.db, { now, leaseUntil, limit });
    result.batches += 1;
    // Enqueued after the claim committed; if this fails, the claim lapses and a later sweep retries.
    await app.enqueueBulk(
      'directory.sync',
      ids.map((serviceAccountId) => ({
        serviceAccountId,
        syncId: now.getTime(),
        leaseAt: leaseUntil.getTime(),
      })),
    );
    result.claimed += ids.length;
    if (ids.length < limit) {
      break;
    }
  }
  return result;
}

/** `directory.sync`: the first page of a claimed sync, or nothing when the claim is gone. */
export async function startDirectorySync(
  app: Pick<AppContext, 'db'>,
  sync: Omit<SyncStep, 'tally'>,
): Promise<Effects> {
  const sa = await findServiceAccount(app.db, sync.serviceAccountId);
  return holdsLease(sa, sync.leaseAt) ? [jobRequest('directory.sync-page', firstPage(sync))] : [];
}

export type FinishOptions = SyncOptions & {
  /** How long removed or suspended entries keep their Accounts. Default: the Service Account's `removal_delay_seconds`. */
  graceMs?: number;
};

export type FinishResult = {
  outcome: 'finished' | 'skipped';
  removed: number;
  disconnected: number;
  revoked: number;
  provisioningRunId: string | null;
  /** What the sync listed (and found new) of each kind. */
  tally: SyncTally;
};

/**
 * `directory.sync-finish`, after the last page: starts a provisioning run for new entries (when
 * `auto_provision` is on; it skips what is provisioned already, so a retry starting a second one
 * is harmless), then in one transaction ends the sync (last/next sync times) and marks removed the
 * entries it did not list, disconnecting their Profiles. Then revokes the Accounts past the grace
 * period. A listing that returned nothing of a kind removes nothing of that kind: an empty
 * directory is far likelier a provider or permission glitch than every user or room deleted.
 */
export async function finishDirectorySync(
  app: AppContext,
  step: SyncStep,
  opts: FinishOptions = {},
): Promise<FinishResult> {
  const skipped: FinishResult = {
    outcome: 'skipped',
    removed: 0,
    disconnected: 0,
    revoked: 0,
    provisioningRunId: null,
    tally: step.tally,
  };
  const sa = await findServiceAccount(app.db, step.serviceAccountId);
  if (!holdsLease(sa, step.leaseAt)) {
    return skipped;
  }
  const logger = (opts.logger ?? app.logger).child({ serviceAccountId: sa.id });
  const addedKinds = SYNC_KINDS.filter((k) => step.tally[k].added > 0);
  const provisioningRunId =
    sa.autoProvision && addedKinds.length > 0 ? await autoProvision(app, sa, addedKinds, logger) : null;

  const now = new Date();
  const listedKinds = SYNC_KINDS.filter((k) => step.tally[k].listed > 0).flatMap((k) => ENTRY_KINDS[k]);
  const done = await app.db.transaction(async (tx) => {
    const ended = await endDirectorySync(tx, sa.id, new Date(step.leaseAt), {
      lastSyncAt: now,
      nextSyncAt: new Date(step.syncId + app.config.scheduler.directorySyncIntervalSecs * 1000),
    });
    if (!ended) {
      return undefined;
    }
    const gone = await removeUnlistedEntries(tx, sa.id, listedKinds, new Date(step.syncId), {
      now,
      recheckAfterMs: backoffMs(1, app.config.scheduler.reconnectBackoffSecs, () => 0),
    });
    const deliveryIds = await storeProfileNotifications(tx, app, disconnectEvents(gone.notify, step, now));
    return { ...gone, deliveryIds };
  });
  if (!done) {
    return skipped;
  }
  const revoked = await revokePastGrace(
    app,
    sa,
    new Date(now.getTime() - (opts.graceMs ?? sa.removalDelaySeconds * 1000)),
  );
  const result: FinishResult = {
    outcome: 'finished',
    removed: done.removed,
    disconnected: done.disconnected,
    revoked,
    provisioningRunId,
    tally: step.tally,
  };
  logger.info(result, 'directory sync finished');
  return result;
}

/** Starts a provisioning run of the kinds that had new entries; null when it may not (logged). */
async function autoProvision(
  app: AppContext,
  sa: ServiceAccount,
  kinds: RunInclude[],
  logger: Logger,
): Promise<string | null> {
  const scope = scopeWithin('read_write', sa.delegatedScope) ? 'read_write' : sa.delegatedScope;
  try {
    const run = await createRun(app, sa, null, {
      include: kinds,
      scope,
      verify: 'mailbox',
      dry_run: false,
      callback_url: null,
      state: null,
    });
    logger.info({ runId: run.id, include: kinds }, 'directory sync started auto-provisioning');
    return run.id;
  } catch (err) {
    if (isAppError(err) && !err.retryable) {
      logger.warn({ code: err.code, err: err.message }, 'directory sync could not start auto-provisioning');
      return null;
    }
    throw err;
  }
}

/** Revokes (Account + tokens, one transaction each) up to REVOKE_BATCH Accounts past the grace period. */
async function revokePastGrace(app: AppContext, sa: ServiceAccount, cutoff: Date): Promise<number> {
  let revoked = 0;
  for (const c of await accountsPastGrace(app.db, sa.id, cutoff, REVOKE_BATCH)) {
    if (await revokeAccount(app.db, c.applicationId, c.accountId)) {
      revoked += 1;
      await insertAuditEvent(app.db, {
        id: newId('audit'),
        applicationId: c.applicationId,
        actor: 'directory-sync',
        action: 'account.revoked',
        subjectType: 'account',
        subjectId: c.accountId,
        data: { serviceAccountId: sa.id, reason: 'removed_or_suspended_past_grace' },
      });
    }
  }
  return revoked;
}

/**
 * Syncs one Service Account now, in this process (tests, operators): claims it (a sync already
 * running loses its lease and stops at its next step), lists every page and finishes.
 */
export async function syncDirectoryNow(
  app: AppContext,
  serviceAccountId: string,
  opts: FinishOptions = {},
): Promise<FinishResult | { outcome: 'skipped' | 'service_account_broken' }> {
  const now = new Date();
  const leaseUntil = new Date(now.getTime() + SYNC_LEASE_MS);
  if (!(await claimDirectorySync(app.db, serviceAccountId, leaseUntil))) {
    return { outcome: 'skipped' };
  }
  let next: SyncNext = {
    page: firstPage({ serviceAccountId, syncId: now.getTime(), leaseAt: leaseUntil.getTime() }),
  };
  while ('page' in next) {
    const result = await syncDirectoryPage(app, next.page, opts);
    if (result.outcome !== 'listed' || !result.next) {
      return { outcome: result.outcome === 'service_account_broken' ? result.outcome : 'skipped' };
    }
    next = result.next;
  }
  return finishDirectorySync(app, next.finish, opts);
}
