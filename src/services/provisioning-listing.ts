/**
 * The listing half of a provisioning run: `runs.start` and `directory.list-page` (one provider page
 * per job, stored with the next page's cursor). The provisioning half is provisioning-pipeline.ts.
 */

import { deterministicDbErrorCode } from '../db/errors.js';
import { alreadyProvisioned } from '../db/queries/accounts.js';
import { upsertDirectoryEntries } from '../db/queries/directory-entries.js';
import { insertRunItems } from '../db/queries/run-items.js';
import { findRun, lockRun, reasonDelta, recordListedPage, updateRun } from '../db/queries/runs.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { ProvisioningRun } from '../db/schema/provisioning-runs.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { type Effects, jobRequest } from '../jobs/catalog.js';
import { applyEffects } from '../jobs/queues.js';
import { newId } from '../lib/ids.js';
import { provisionBatches, type RunInclude } from '../lib/provisioning.js';
import type { DirectoryPage, DirectoryRoom, DirectoryUser } from '../providers/types.js';
import type { AppContext } from './context.js';
import { storeDeliveries } from './deliveries.js';
import { isActive, LIST_PAGE_SIZE, priorityForPage } from './provisioning-pipeline.js';
import { REASON_DESCRIPTIONS } from './reasons.js';
import { refusedEntriesOf, refusedItem, refusedItemCallbacks } from './refused-entries.js';
import { listRunUsersPage, notFoundItems } from './selection-listing.js';

/** A run's `directory.list-page` job for one page. */
const listPageJob = (runId: string, kind: RunInclude, page: number) =>
  jobRequest('directory.list-page', { runId, kind, page }, { priority: priorityForPage(page) });

/** `runs.start`: queued → listing, and the first page of each kind. */
export async function startRun(app: AppContext, runId: string): Promise<Effects> {
  return app.db.transaction(async (tx) => {
    const run = await lockRun(tx, runId);
    const fx: Effects = [];
    if (!run || !isActive(run)) {
      return fx;
    }
    const cursor = { ...run.cursor };
    for (const kind of run.include) {
      const c = cursor[kind] ?? { pageToken: null, done: false, pages: 0 };
      cursor[kind] = c;
      if (!c.done) {
        fx.push(listPageJob(runId, kind, c.pages));
      }
    }
    await updateRun(tx, runId, {
      status: run.status === 'queued' ? 'listing' : run.status,
      startedAt: run.startedAt ?? new Date(),
      cursor,
    });
    return fx;
  });
}

type SkipReason = 'guest_user' | 'user_suspended' | 'mailbox_not_enabled' | 'already_provisioned';
const SKIP_DESCRIPTIONS: Record<SkipReason, string> = {
  guest_user: REASON_DESCRIPTIONS.guest_user,
  user_suspended: REASON_DESCRIPTIONS.user_suspended,
  mailbox_not_enabled: REASON_DESCRIPTIONS.mailbox_not_enabled,
  already_provisioned: 'An active Account already exists',
};

/** Directory entry rows for one listed page (also used by the directory sync, which sets `lastSeenAt`). */
export function entryRows(sa: ServiceAccount, kind: RunInclude, items: (DirectoryUser | DirectoryRoom)[]) {
  const now = new Date();
  return items.map((i) => {
    const user = kind === 'users' ? (i as DirectoryUser) : undefined;
    const room = kind === 'rooms' ? (i as DirectoryRoom) : undefined;
    return {
      id: newId('directoryEntry'),
      serviceAccountId: sa.id,
      kind: user ? user.kind : ('room' as const),
      email: i.email,
      emailLower: i.email.toLowerCase(),
      providerId: i.providerId,
      name: i.name,
      suspended: user?.suspended ?? false,
      hasMailbox: user?.hasMailbox ?? true,
      capacity: room?.capacity ?? null,
      building: room?.building ?? null,
      floor: room?.floor ?? null,
      // Ours, not the provider's words: `room` or `equipment` (the API's `resource_type`).
      resourceType: room ? (room.resourceKind ?? 'room') : null,
      lastSeenAt: now,
    };
  });
}

/** Pages one `directory.list-page` job lists, one after the other (each in its own transaction). */
export const LIST_PAGES_PER_JOB = 10;

/**
 * `directory.list-page`: lists provider pages from `page` on, up to LIST_PAGES_PER_JOB: each page's
 * directory entries and run items are stored in one transaction with the cursor of the next page (so
 * a restart resumes there), and its provisioning batches are queued once it committed. The next page
 * is asked of the provider while this one is written, so at a provider's latency the listing costs
 * about one latency per page, not a latency plus a write plus a job hand-off. The last page of the job
 * queues the job of the next one. Running it twice changes nothing: a page is stored once (the cursor
 * check at its commit), and a retry of this job after it stored some of its pages goes on from the
 * cursor.
 */
export async function listPage(
  app: AppContext,
  input: { runId: string; kind: RunInclude; page: number },
  signal: AbortSignal,
): Promise<Effects> {
  let prefetched: { token: string; page: Promise<ListedPage> } | undefined;
  for (let page = input.page; ; page++) {
    const run = await findRun(app.db, input.runId);
    if (!run || !isActive(run)) {
      return [];
    }
    const c = run.cursor[input.kind];
    if (!c || c.done) {
      return [];
    }
    if (c.pages !== page) {
      // Stored already: by another run of this job (it goes on), or by this one before a retry.
      const ours = page === input.page && c.pages > page && c.pages < input.page + LIST_PAGES_PER_JOB;
      if (!ours) {
        return [];
      }
      page = c.pages;
    }
    const sa = await findServiceAccount(app.db, run.serviceAccountId);
    if (!sa || sa.status === 'revoked') {
      await updateRun(app.db, run.id, {
        status: 'failed',
        error: 'service_account_revoked',
        finishedAt: new Date(),
      });
      return [];
    }
    const provider = app.providers.forServiceAccount(sa);
    const fetchPage = (token: string | null): Promise<ListedPage> =>
      input.kind === 'users'
        ? listRunUsersPage(app, run, provider, token, { pageSize: LIST_PAGE_SIZE.users, signal })
        : provider.listRoomsPage(token, { pageSize: LIST_PAGE_SIZE.rooms, signal });
    const listed =
      prefetched && prefetched.token === c.pageToken ? await prefetched.page : await fetchPage(c.pageToken);
    const next = listed.nextCursor;
    // The job's last page (or the listing's) queues the next job instead.
    prefetched =
      next === null || page + 1 >= input.page + LIST_PAGES_PER_JOB
        ? undefined
        : { token: next, page: fetchPage(next) };
    // Its failure is met when it is awaited, on the next page.
    prefetched?.page.catch(() => {});
    const fx = await storeListedPage(app, run, sa, { ...input, page }, listed, !prefetched);
    if (fx === undefined) {
      return []; // Another run of this job stored this page, and goes on.
    }
    if (!prefetched || signal.aborted) {
      return prefetched ? [...fx, listPageJob(run.id, input.kind, page + 1)] : fx;
    }
    await applyEffects(app, fx);
  }
}

type ListedPage = Awaited<ReturnType<typeof listRunUsersPage>> | DirectoryPage<DirectoryRoom>;

/**
 * One listed page stored in one transaction: directory entries, run items, refused items' callbacks,
 * and, last, the run's counts with the next page's cursor. Returns the jobs to queue after the commit
 * (the next page's only when `queueNext`), or undefined when this page was stored already.
 */
async function storeListedPage(
  app: AppContext,
  run: ProvisioningRun,
  sa: ServiceAccount,
  input: { kind: RunInclude; page: number },
  page: ListedPage,
  queueNext: boolean,
): Promise<Effects | undefined> {
  class PageAlreadyStored extends Error {}
  // A listing may repeat an email (two spellings of one address): one entry each, the last kept.
  const entries = [...new Map(entryRows(sa, input.kind, page.items).map((e) => [e.emailLower, e])).values()];
  const guests = new Set(
    page.items.filter((i) => 'guest' in i && i.guest === true).map((i) => i.email.toLowerCase()),
  );
  const write = (refused: Map<string, string>) =>
    app.db.transaction(async (tx) => {
      const fx: Effects = [];
      const good = entries.filter((e) => !refused.has(e.emailLower));
      const stored = run.dryRun ? [] : await upsertDirectoryEntries(tx, good);
      const entryIds = new Map(stored.map((s) => [s.emailLower, s.id]));
      const existing = await alreadyProvisioned(
        tx,
        sa.id,
        good.map((e) => e.emailLower),
      );
      const inserted = await insertRunItems(tx, [
        ...good.map((e) => {
          const skip: SkipReason | undefined = guests.has(e.emailLower)
            ? 'guest_user'
            : e.suspended
              ? 'user_suspended'
              : !e.hasMailbox
                ? 'mailbox_not_enabled'
                : existing.has(e.emailLower)
                  ? 'already_provisioned'
                  : undefined;
          return {
            id: newId('runItem'),
            runId: run.id,
            kind: e.kind,
            email: e.email,
            emailLower: e.emailLower,
            directoryEntryId: entryIds.get(e.emailLower) ?? null,
            status: skip ? ('skipped' as const) : ('pending' as const),
            errorKey: skip ?? null,
            errorDescription: skip ? SKIP_DESCRIPTIONS[skip] : null,
          };
        }),
        ...entries.flatMap((e) => {
          const code = refused.get(e.emailLower);
          return code === undefined ? [] : [refusedItem(run, e, code)];
        }),
        ...notFoundItems(run, page),
      ]);
      const skipped = inserted.filter((i) => i.status === 'skipped').length;
      const failed = inserted.filter((i) => i.status === 'failed');
      await storeDeliveries(tx, app, refusedItemCallbacks(run, failed));
      const next = { pageToken: page.nextCursor, done: page.nextCursor === null, pages: input.page + 1 };
      // Last statement: it holds the run row until commit, and refuses a page stored already.
      const cursor = await recordListedPage(
        tx,
        run.id,
        input.kind,
        input.page,
        next,
        { listed: inserted.length, skipped, failed: failed.length },
        reasonDelta(inserted),
      );
      if (!cursor) {
        throw new PageAlreadyStored();
      }
      if (!next.done && queueNext) {
        fx.push(listPageJob(run.id, input.kind, input.page + 1));
      }
      const pending = inserted.filter((i) => i.status === 'pending').map((i) => i.id);
      // Batches of one page share their priority, so they are queued in one round trip.
      for (const itemIds of provisionBatches(pending, run.verify)) {
        fx.push(
          jobRequest(
            'accounts.provision',
            { runId: run.id, itemIds },
            { priority: priorityForPage(input.page) },
          ),
        );
      }
      if (run.include.every((k) => cursor[k]?.done) && pending.length === 0) {
        fx.push(jobRequest('runs.finish', { runId: run.id })); // It checks that nothing else is pending.
      }
      return fx;
    });
  try {
    try {
      return await write(new Map());
    } catch (err) {
      if (err instanceof PageAlreadyStored || deterministicDbErrorCode(err) === undefined) {
        throw err;
      }
      // The same rows would be refused on every retry: write the page again without the bad entries.
      const context = { runId: run.id, kind: input.kind, page: input.page };
      return await write(await refusedEntriesOf(app, entries, app.logger, context));
    }
  } catch (err) {
    if (err instanceof PageAlreadyStored) {
      return undefined;
    }
    throw err;
  }
}
