import { deterministicDbErrorCode } from '../db/errors.js';
import { upsertDirectoryEntries } from '../db/queries/directory-entries.js';
import {
  type DisconnectedBySync,
  disconnectMailboxProfiles,
  endDirectorySync,
  findEntriesByEmail,
  makeMailboxProfilesDue,
  renameMailboxes,
  renewDirectorySyncLease,
} from '../db/queries/directory-sync.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { MailboxKind } from '../db/schema/columns.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { type Effects, jobRequest } from '../jobs/catalog.js';
import type { RunInclude } from '../lib/provisioning.js';
import type { Logger } from '../logger.js';
import { isProviderError, type ProviderError, SERVICE_ACCOUNT_REASONS } from '../providers/types.js';
import { backoffMs } from './backoff.js';
import type { AppContext } from './context.js';
import { type ProfileEvent, storeProfileNotifications } from './notifications.js';
import { entryRows } from './provisioning-listing.js';
import { LIST_PAGE_SIZE } from './provisioning-pipeline.js';
import { refusedEntriesOf } from './refused-entries.js';
import { listSyncUsersPage } from './selection-listing.js';
import { confirmServiceAccountBroken } from './service-account-health.js';

/**
 * One page of a directory sync (see directory-sync.ts for the whole): the steps' types, and the
 * page step itself: list one provider page, then in one transaction that renews the sync's lease,
 * store its entries and apply what changed since they were stored.
 */

/**
 * How long a sync may go without storing a page before it counts as lost (and is started again by
 * a sweep). Renewed by every page. Default 15 min.
 */
export const SYNC_LEASE_MS = 15 * 60_000;

/** Listed in this order, one kind after the other (rooms first: see syncDirectoryPage). */
export const SYNC_KINDS = ['rooms', 'users'] as const satisfies readonly RunInclude[];

/** The entry kinds each listing returns (what its absence from a listing removes). */
export const ENTRY_KINDS: Record<RunInclude, MailboxKind[]> = {
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
  /** Entries asked of the provider per page. Default LIST_PAGE_SIZE of its kind (users 999, rooms 500). */
  pageSize?: number;
};

const emptyTally = (): SyncTally => ({ users: { listed: 0, added: 0 }, rooms: { listed: 0, added: 0 } });

export function firstPage(sync: Omit<SyncStep, 'tally'>): PageStep {
  return { ...sync, tally: emptyTally(), kind: SYNC_KINDS[0], page: 0, cursor: null };
}

/** The sync still holds its lease on an active Service Account. */
export function holdsLease(sa: ServiceAccount | undefined, leaseAt: number): sa is ServiceAccount {
  return sa?.status === 'active' && sa.nextDirectorySyncAt?.getTime() === leaseAt;
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
  const list = {
    pageSize: opts.pageSize ?? LIST_PAGE_SIZE[step.kind],
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  let page: Awaited<ReturnType<typeof provider.listUsersPage | typeof provider.listRoomsPage>>;
  try {
    page =
      step.kind === 'users'
        ? await listSyncUsersPage(app, sa, provider, step.cursor, list)
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
  const listed = uniqueByEmail(entryRows(sa, step.kind, page.items)).map((r) => ({
    ...r,
    lastSeenAt: syncStart,
  }));
  const writePage = (listedRows: typeof listed) =>
    app.db.transaction(async (tx) => {
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
  let written: Awaited<ReturnType<typeof writePage>>;
  try {
    written = await writePage(listed);
  } catch (err) {
    if (deterministicDbErrorCode(err) === undefined) {
      throw err;
    }
    // Refused on every retry: the page is stored without the entries the database refuses.
    const logger = opts.logger ?? app.logger;
    const context = { serviceAccountId: sa.id, kind: step.kind, page: step.page };
    const refused = await refusedEntriesOf(app, listed, logger, context);
    written = await writePage(listed.filter((r) => !refused.has(r.emailLower)));
  }
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

export function disconnectEvents(
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

/** The job a page asks for next, queued after its transaction committed: the next page, or the finish. */
export function pageResultEffects(result: PageResult): Effects {
  if (result.next && 'page' in result.next) {
    return [jobRequest('directory.sync-page', result.next.page)];
  }
  return result.next ? [jobRequest('directory.sync-finish', result.next.finish)] : [];
}
