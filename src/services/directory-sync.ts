import { z } from 'zod';
import { insertAuditEvent } from '../db/queries/audit-events.js';
import {
  accountsPastGrace,
  claimDirectorySync,
  claimDueDirectorySyncs,
  type DisconnectedBySync,
  disconnectMailboxProfiles,
  endDirectorySync,
  findEntriesByEmail,
  makeMailboxProfilesDue,
  removeUnlistedEntries,
  renameMailboxes,
  renewDirectorySyncLease,
} from '../db/queries/directory-sync.js';
import { upsertDirectoryEntries } from '../db/queries/runs.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { MailboxKind } from '../db/schema/columns.js';
import { RUN_INCLUDES, type RunInclude } from '../db/schema/provisioning-runs.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { isAppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../logger.js';
import { isProviderError, type ProviderError, SERVICE_ACCOUNT_REASONS } from '../providers/types.js';
import { revokeAccount } from './accounts.js';
import { backoffMs } from './backoff.js';
import type { AppContext } from './context.js';
import { type ProfileEvent, sendNotifications, storeProfileNotifications } from './notifications.js';
import { createRun } from './provisioning.js';
import { entryRows, LIST_PAGE_SIZE } from './provisioning-pipeline.js';
import { scopeWithin } from './scopes.js';
import { confirmServiceAccountBroken } from './service-account-health.js';

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
 * How long a sync may go without storing a page before it counts as lost (and is started again by
 * a sweep). Renewed by every page. Default 15 min.
 */
export const SYNC_LEASE_MS = 15 * 60_000;
/**
 * How long an entry may stay removed from the directory (or suspended, with its Profile
 * disconnected) before its Account is revoked. Default 7 days.
 */
export const REMOVAL_GRACE_MS = 7 * 86_400_000;
/** Accounts revoked per sync at most; the rest are revoked by the next sync. */
export const REVOKE_BATCH = 500;

/** Listed in this order, one kind after the other (rooms first: see syncDirectoryPage). */
export const SYNC_KINDS = ['rooms', 'users'] as const satisfies readonly RunInclude[];

/** The entry kinds each listing returns (what its absence from a listing removes). */
const ENTRY_KINDS: Record<RunInclude, MailboxKind[]> = {
  users: ['user', 'shared_mailbox'],
  rooms: ['room'],
};

export type KindTally = { listed: number; added: number };
/** Counts carried from page to page: what was listed, and what was new (for auto-provisioning). */
export type SyncTally = Record<RunInclude, KindTally>;

/** One sync of one Service Account: `syncId` is its start (ms), `leaseAt` the lease it holds. */
export type SyncStep = { serviceAccountId: string; syncId: number; leaseAt: number; tally: SyncTally };
export type PageStep = SyncStep & { kind: RunInclude; page: number; cursor: string | null };

export type SyncNext = { page: PageStep } | { finish: SyncStep };

export type PageResult = {
  outcome: 'listed' | 'skipped' | 'service_account_broken';
  next?: SyncNext;
  /** Notifications stored by the page; send them (they are committed). */
  deliveryIds: string[];
  stats?: { listed: number; added: number; renamed: number; disconnected: number };
};

export type SyncOptions = {
  signal?: AbortSignal;
  logger?: Logger;
  /** Entries asked of the provider per page. Default LIST_PAGE_SIZE (500). */
  pageSize?: number;
};

const count = z.number().int().min(0).max(1_000_000_000);
const kindTallySchema = z.object({ listed: count, added: count });

/** Payload of `directory.sync`: a claimed sync. */
export const syncClaimSchema = z.object({
  serviceAccountId: z.string().startsWith('ser_').max(64),
  /** The sync's start (ms): entries it lists get `last_seen_at` = this. */
  syncId: z.number().int().positive(),
  /** The lease the step must still hold (`next_directory_sync_at`, ms). */
  leaseAt: z.number().int().positive(),
});
/** Payload of `directory.sync-finish`. */
export const syncStepSchema = syncClaimSchema.extend({
  tally: z.object({ users: kindTallySchema, rooms: kindTallySchema }),
});
/** Payload of `directory.sync-page`. */
export const syncPageStepSchema = syncStepSchema.extend({
  kind: z.enum(RUN_INCLUDES),
  page: z.number().int().min(0).max(10_000_000),
  /** The provider's cursor of this page (a Graph nextLink can be long); null for the first page. */
  cursor: z.string().min(1).max(16_384).nullable(),
});

/** Job ids of one sync's steps start with this. */
export const syncJobId = (p: { serviceAccountId: string; syncId: number }) =>
  `dirsync-${p.serviceAccountId}-${p.syncId}`;

const emptyTally = (): SyncTally => ({ users: { listed: 0, added: 0 }, rooms: { listed: 0, added: 0 } });

function firstPage(sync: Omit<SyncStep, 'tally'>): PageStep {
  return { ...sync, tally: emptyTally(), kind: SYNC_KINDS[0], page: 0, cursor: null };
}

/** The sync still holds its lease on an active Service Account. */
function holdsLease(sa: ServiceAccount | undefined, leaseAt: number): sa is ServiceAccount {
  return sa?.status === 'active' && sa.nextDirectorySyncAt?.getTime() === leaseAt;
}

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
): Promise<PageStep | undefined> {
  const sa = await findServiceAccount(app.db, sync.serviceAccountId);
  return holdsLease(sa, sync.leaseAt) ? firstPage(sync) : undefined;
}

/** Keeps the last row of each email (a listing may repeat one across a page boundary). */
function uniqueByEmail<T extends { emailLower: string }>(rows: T[]): T[] {
  return [...new Map(rows.map((r) => [r.emailLower, r])).values()];
}

/**
 * `directory.sync-page`: lists one provider page and, in one transaction that renews the lease,
 * stores its entries and applies what changed since they were stored. Returns the next step. A
 * step whose sync lost its lease (ran twice, or claimed again since) changes nothing.
 */
export async function syncDirectoryPage(
  app: AppContext,
  step: PageStep,
  opts: SyncOptions = {},
): Promise<PageResult> {
  const sa = await findServiceAccount(app.db, step.serviceAccountId);
  if (!holdsLease(sa, step.leaseAt)) {
    return { outcome: 'skipped', deliveryIds: [] };
  }
  const provider = app.providers.forServiceAccount(sa);
  const list = { pageSize: opts.pageSize ?? LIST_PAGE_SIZE, ...(opts.signal ? { signal: opts.signal } : {}) };
  let page: Awaited<ReturnType<typeof provider.listUsersPage | typeof provider.listRoomsPage>>;
  try {
    page =
      step.kind === 'users'
        ? await provider.listUsersPage(step.cursor, list)
        : await provider.listRoomsPage(step.cursor, list);
  } catch (err) {
    if (!isProviderError(err) || err.retryable) {
      throw err; // Transient: the job retries; if it never succeeds, the lease ends and a sweep starts over.
    }
    return abandonSync(app, sa, step, err, opts);
  }

  const syncStart = new Date(step.syncId);
  const now = new Date();
  const leaseUntil = new Date(now.getTime() + SYNC_LEASE_MS);
  const listedRows = uniqueByEmail(entryRows(sa, step.kind, page.items)).map((r) => ({
    ...r,
    lastSeenAt: syncStart,
  }));
  const written = await app.db.transaction(async (tx) => {
    if (!(await renewDirectorySyncLease(tx, sa.id, new Date(step.leaseAt), leaseUntil))) {
      return undefined;
    }
    const before = new Map(
      (
        await findEntriesByEmail(
          tx,
          sa.id,
          listedRows.map((r) => r.emailLower),
        )
      ).map((e) => [e.emailLower, e]),
    );
    // Graph lists room mailboxes in /users too; the adapter tells them apart with a room index it
    // caches for a while, so a room created meanwhile can come through as a user. Rooms are listed
    // first: a users page leaves alone what this sync (or an earlier one) stored as a live room.
    const rows =
      step.kind === 'users'
        ? listedRows.filter((r) => {
            const b = before.get(r.emailLower);
            return !(b?.kind === 'room' && b.removedAt === null);
          })
        : listedRows;
    await upsertDirectoryEntries(tx, rows);
    const usable = (r: (typeof rows)[number]) => !r.suspended && r.hasMailbox;
    const renamed = rows.flatMap((r) => {
      const b = before.get(r.emailLower);
      return b && b.name !== r.name ? [{ emailLower: r.emailLower, oldName: b.name, newName: r.name }] : [];
    });
    const added = rows.filter((r) => {
      const b = before.get(r.emailLower);
      return usable(r) && (!b || b.removedAt !== null);
    });
    const back = rows.filter((r) => {
      const b = before.get(r.emailLower);
      return usable(r) && b !== undefined && (b.removedAt !== null || b.suspended || !b.hasMailbox);
    });
    await renameMailboxes(tx, sa.id, renamed);
    await makeMailboxProfilesDue(
      tx,
      sa.id,
      [...new Set([...renamed, ...back].map((r) => r.emailLower))],
      now,
    );
    const refused = rows
      .filter((r) => !usable(r))
      .map((r) => ({
        emailLower: r.emailLower,
        reason: r.suspended ? 'user_suspended' : 'mailbox_not_enabled',
      }));
    const cut = await disconnectMailboxProfiles(tx, sa.id, refused, {
      now,
      recheckAfterMs: backoffMs(1, app.config.scheduler.reconnectBackoffSecs, () => 0),
    });
    const deliveryIds = await storeProfileNotifications(tx, app, disconnectEvents(cut.notify, step, now));
    return {
      deliveryIds,
      listed: rows.length,
      added: added.length,
      renamed: renamed.length,
      disconnected: cut.disconnected,
    };
  });
  if (!written) {
    return { outcome: 'skipped', deliveryIds: [] };
  }
  const kindTally = step.tally[step.kind];
  const tally: SyncTally = {
    ...step.tally,
    [step.kind]: { listed: kindTally.listed + written.listed, added: kindTally.added + written.added },
  };
  const sync = { serviceAccountId: sa.id, syncId: step.syncId, leaseAt: leaseUntil.getTime(), tally };
  const nextKind = SYNC_KINDS[SYNC_KINDS.indexOf(step.kind as (typeof SYNC_KINDS)[number]) + 1];
  const next: SyncNext =
    page.nextCursor !== null
      ? { page: { ...sync, kind: step.kind, page: step.page + 1, cursor: page.nextCursor } }
      : nextKind
        ? { page: { ...sync, kind: nextKind, page: 0, cursor: null } }
        : { finish: sync };
  return {
    outcome: 'listed',
    next,
    deliveryIds: written.deliveryIds,
    stats: {
      listed: written.listed,
      added: written.added,
      renamed: written.renamed,
      disconnected: written.disconnected,
    },
  };
}

function disconnectEvents(
  notify: DisconnectedBySync[],
  step: Pick<SyncStep, 'syncId'>,
  at: Date,
): ProfileEvent[] {
  return notify.map((d) => ({
    type: 'profile_disconnected',
    accountId: d.accountId,
    profile: {
      profileId: d.profileId,
      profileName: d.profileName,
      connected: false,
      disconnectReason: d.reason,
    },
    at,
    eventKey: `sync-${step.syncId}`,
  }));
}

/**
 * The listing was refused for good. A refusal naming the Service Account is confirmed with the
 * health check's `verify()`: broken → marked (its Profiles are paused, the health check takes over,
 * and the sync is due again once it is active). Otherwise (e.g. no permission to read rooms while
 * users list fine) the sync is given up until the next interval, and the error is rethrown so the
 * job fails for good and shows among the failures. Nothing is marked removed either way.
 */
async function abandonSync(
  app: AppContext,
  sa: ServiceAccount,
  step: PageStep,
  err: ProviderError,
  opts: SyncOptions,
): Promise<PageResult> {
  const logger = (opts.logger ?? app.logger).child({ serviceAccountId: sa.id });
  if (SERVICE_ACCOUNT_REASONS.includes(err.reason)) {
    const signal = opts.signal ?? new AbortController().signal;
    if (await confirmServiceAccountBroken(app, sa, err, { signal, logger })) {
      logger.warn({ reason: err.reason, kind: step.kind }, 'directory sync stopped: service account broken');
      return { outcome: 'service_account_broken', deliveryIds: [] };
    }
  }
  await endDirectorySync(app.db, sa.id, new Date(step.leaseAt), {
    lastSyncAt: null,
    nextSyncAt: new Date(Date.now() + app.config.scheduler.directorySyncIntervalSecs * 1000),
  });
  logger.warn({ reason: err.reason, kind: step.kind }, 'directory sync refused; retried next interval');
  throw err;
}

/** Queues what a page asked for (after its transaction committed): the next step, notifications. */
export async function applyPageResult(app: Pick<AppContext, 'enqueue'>, result: PageResult): Promise<void> {
  await sendNotifications(app, result.deliveryIds);
  if (result.next && 'page' in result.next) {
    await app.enqueue('directory.sync-page', result.next.page);
  } else if (result.next) {
    await app.enqueue('directory.sync-finish', result.next.finish);
  }
}

export type FinishOptions = SyncOptions & {
  /** How long removed or suspended entries keep their Accounts. Default REMOVAL_GRACE_MS (7 days). */
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
  await sendNotifications(app, done.deliveryIds);
  const revoked = await revokePastGrace(
    app,
    sa,
    new Date(now.getTime() - (opts.graceMs ?? REMOVAL_GRACE_MS)),
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
    await sendNotifications(app, result.deliveryIds);
    if (result.outcome !== 'listed' || !result.next) {
      return { outcome: result.outcome === 'service_account_broken' ? result.outcome : 'skipped' };
    }
    next = result.next;
  }
  return finishDirectorySync(app, next.finish, opts);
}
