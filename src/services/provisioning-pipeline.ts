import { upsertProvisionedAccount } from '../db/queries/accounts.js';
import {
  addRunCounts,
  alreadyProvisioned,
  countPending,
  findEntries,
  findItems,
  findRun,
  insertRunItems,
  lockRun,
  moveItems,
  type NewRunItem,
  setRunCursor,
  updateRun,
  upsertDirectoryEntries,
} from '../db/queries/runs.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import { insertAuthorizationCode } from '../db/queries/tokens.js';
import type { DirectoryEntry } from '../db/schema/directory-entries.js';
import type { ProvisioningRun, RunInclude } from '../db/schema/provisioning-runs.js';
import type { RunItem } from '../db/schema/run-items.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { hashToken, newOpaqueToken } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import {
  type DirectoryRoom,
  type DirectoryUser,
  type MailboxCalendar,
  ProviderError,
} from '../providers/types.js';
import { firstCheckAt } from './authorizations.js';
import type { AppContext } from './context.js';
import { deliveryIdFor, storeDelivery } from './deliveries.js';
import { oauthErrorFor, REASON_DESCRIPTIONS, type ReasonCode } from './reasons.js';
import { CODE_TTL_SECS } from './tokens.js';

/** Directory page size asked of the provider (Google allows 500, Graph 999). */
export const LIST_PAGE_SIZE = 500;
/** Items per `accounts.provision` job: one transaction per batch. */
export const PROVISION_BATCH = 25;
/** Mailbox checks in flight within one batch (each also waits on the shared quota limiter). */
export const BATCH_PARALLELISM = 5;

/** Jobs of later pages get a larger BullMQ priority number (run later), so small runs are not starved. */
export const priorityForPage = (page: number) => Math.min(1 + page, 2_000_000);

export type PipelineEffects = {
  listPages: { runId: string; kind: RunInclude; page: number }[];
  provisionBatches: { runId: string; itemIds: string[]; priority: number }[];
  deliveries: string[];
  finish: boolean;
};

const noEffects = (): PipelineEffects => ({
  listPages: [],
  provisionBatches: [],
  deliveries: [],
  finish: false,
});

/** Queues what a pipeline step asked for, after its transaction committed. */
export async function applyEffects(app: AppContext, runId: string, fx: PipelineEffects): Promise<void> {
  for (const p of fx.listPages) {
    await app.enqueue('directory.list-page', p, { priority: priorityForPage(p.page) });
  }
  for (const b of fx.provisionBatches) {
    await app.enqueue('accounts.provision', { runId: b.runId, itemIds: b.itemIds }, { priority: b.priority });
  }
  for (const deliveryId of fx.deliveries) {
    await app.enqueue('deliveries.send', { deliveryId, attempt: 0 });
  }
  if (fx.finish) {
    await app.enqueue('runs.finish', { runId });
  }
}

const isActive = (run: ProvisioningRun) =>
  run.status === 'queued' || run.status === 'listing' || run.status === 'provisioning';

/** `runs.start`: queued → listing, and the first page of each kind. */
export async function startRun(app: AppContext, runId: string): Promise<PipelineEffects> {
  return app.db.transaction(async (tx) => {
    const run = await lockRun(tx, runId);
    const fx = noEffects();
    if (!run || !isActive(run)) {
      return fx;
    }
    const cursor = { ...run.cursor };
    for (const kind of run.include) {
      const c = cursor[kind] ?? { pageToken: null, done: false, pages: 0 };
      cursor[kind] = c;
      if (!c.done) {
        fx.listPages.push({ runId, kind, page: c.pages });
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

type Listed = {
  entry: Omit<NewRunItem, 'id' | 'runId'> & { providerId: string };
  skip?: ReasonCode | 'already_provisioned';
};

function entryRows(sa: ServiceAccount, kind: RunInclude, items: (DirectoryUser | DirectoryRoom)[]) {
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
      resourceType: room?.resourceType ?? null,
      lastSeenAt: now,
    };
  });
}

/**
 * `directory.list-page`: lists one provider page, stores its directory entries and run items in
 * one transaction with the cursor of the next page (so a restart resumes here), then queues the
 * next page and the provisioning batches. Running it twice for the same page changes nothing.
 */
export async function listPage(
  app: AppContext,
  input: { runId: string; kind: RunInclude; page: number },
  signal: AbortSignal,
): Promise<PipelineEffects> {
  const run = await findRun(app.db, input.runId);
  const fx = noEffects();
  if (!run || !isActive(run)) {
    return fx;
  }
  const c = run.cursor[input.kind];
  if (!c || c.done || c.pages !== input.page) {
    return fx; // Another run of this job already stored this page.
  }
  const sa = await findServiceAccount(app.db, run.serviceAccountId);
  if (!sa || sa.status === 'revoked') {
    await updateRun(app.db, run.id, {
      status: 'failed',
      error: 'service_account_revoked',
      finishedAt: new Date(),
    });
    return fx;
  }
  const provider = app.providers.forServiceAccount(sa);
  const page =
    input.kind === 'users'
      ? await provider.listUsersPage(c.pageToken, { pageSize: LIST_PAGE_SIZE, signal })
      : await provider.listRoomsPage(c.pageToken, { pageSize: LIST_PAGE_SIZE, signal });

  return app.db.transaction(async (tx) => {
    const locked = await lockRun(tx, run.id);
    const cur = locked?.cursor[input.kind];
    if (!locked || !isActive(locked) || !cur || cur.done || cur.pages !== input.page) {
      return fx;
    }
    const entries = entryRows(sa, input.kind, page.items);
    const stored = run.dryRun ? [] : await upsertDirectoryEntries(tx, entries);
    const entryIds = new Map(stored.map((s) => [s.emailLower, s.id]));
    const existing = await alreadyProvisioned(
      tx,
      sa.id,
      entries.map((e) => e.emailLower),
    );
    const listed: Listed[] = entries.map((e) => {
      const skip: Listed['skip'] = e.suspended
        ? 'user_suspended'
        : !e.hasMailbox
          ? 'mailbox_not_enabled'
          : existing.has(e.emailLower)
            ? 'already_provisioned'
            : undefined;
      return {
        entry: {
          kind: e.kind,
          email: e.email,
          emailLower: e.emailLower,
          directoryEntryId: entryIds.get(e.emailLower) ?? null,
          providerId: e.providerId,
        },
        ...(skip ? { skip } : {}),
      };
    });
    const inserted = await insertRunItems(
      tx,
      listed.map((l) => ({
        id: newId('runItem'),
        runId: run.id,
        kind: l.entry.kind,
        email: l.entry.email,
        emailLower: l.entry.emailLower,
        directoryEntryId: l.entry.directoryEntryId,
        status: l.skip ? 'skipped' : 'pending',
        errorKey: l.skip ?? null,
        errorDescription:
          l.skip && l.skip !== 'already_provisioned'
            ? REASON_DESCRIPTIONS[l.skip]
            : l.skip
              ? 'An active Account already exists'
              : null,
      })),
    );
    const skipped = inserted.filter((i) => i.status === 'skipped').length;
    await addRunCounts(tx, run.id, { listed: inserted.length, skipped });
    const done = page.nextCursor === null;
    const cursor = {
      ...locked.cursor,
      [input.kind]: { pageToken: page.nextCursor, done, pages: input.page + 1 },
    };
    await setRunCursor(tx, run.id, cursor);
    const allListed = locked.include.every((k) => cursor[k]?.done);
    if (allListed && locked.status === 'listing') {
      await updateRun(tx, run.id, { status: 'provisioning' });
    }
    if (!done) {
      fx.listPages.push({ runId: run.id, kind: input.kind, page: input.page + 1 });
    }
    const pending = inserted.filter((i) => i.status === 'pending').map((i) => i.id);
    for (let i = 0; i < pending.length; i += PROVISION_BATCH) {
      fx.provisionBatches.push({
        runId: run.id,
        itemIds: pending.slice(i, i + PROVISION_BATCH),
        priority: priorityForPage(input.page),
      });
    }
    if (allListed && (await countPending(tx, run.id)) === 0) {
      fx.finish = true;
    }
    return fx;
  });
}

type Outcome =
  | { item: RunItem; ok: true; entry: DirectoryEntry; calendars: MailboxCalendar[] }
  | { item: RunItem; ok: false; reason: ReasonCode; detail: string };

async function checkItem(
  app: AppContext,
  sa: ServiceAccount,
  run: ProvisioningRun,
  item: RunItem,
  entry: DirectoryEntry | undefined,
  lastAttempt: boolean,
  signal: AbortSignal,
): Promise<Outcome | undefined> {
  const provider = app.providers.forServiceAccount(sa);
  try {
    // Dry runs store no directory entries: the email stands in for the provider id (both providers accept it).
    const mailbox = entry
      ? { kind: entry.kind, email: entry.email, providerId: entry.providerId, name: entry.name }
      : { kind: item.kind, email: item.email, providerId: item.email, name: item.email };
    const resolved = entry ?? ({ ...mailbox, id: null } as unknown as DirectoryEntry);
    if (run.verify === 'directory') {
      return {
        item,
        ok: true,
        entry: resolved,
        calendars: [
          { providerCalendarId: mailbox.email, name: mailbox.name, readonly: false, primary: true },
        ],
      };
    }
    const calendars = await provider.listCalendars(mailbox, signal);
    return { item, ok: true, entry: resolved, calendars };
  } catch (err) {
    if (err instanceof ProviderError && (!err.retryable || lastAttempt)) {
      return { item, ok: false, reason: err.reason, detail: err.message };
    }
    if (err instanceof ProviderError && err.reason === 'rate_limited') {
      throw err; // The whole batch waits; nothing was written.
    }
    if (lastAttempt) {
      return {
        item,
        ok: false,
        reason: 'provider_unavailable',
        detail: err instanceof Error ? err.message : String(err),
      };
    }
    return undefined; // Transient: stays pending, the job retries.
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}

export class TransientBatchError extends Error {
  constructor(readonly remaining: number) {
    super(`${remaining} item(s) hit transient provider errors; retrying`);
    this.name = 'TransientBatchError';
  }
}

/**
 * `accounts.provision`: checks each pending item's mailbox (or trusts the directory), then in ONE
 * transaction creates or re-uses their Accounts with Profiles and Calendars, mints codes, stores
 * the signed callbacks, marks the items and adds to the run's counts. Items already handled (a
 * job that ran before) are skipped, so counts stay exact. Transient failures leave items pending
 * and fail the job so BullMQ retries it with backoff.
 */
export async function provisionBatch(
  app: AppContext,
  input: { runId: string; itemIds: string[] },
  opts: { lastAttempt: boolean; signal: AbortSignal },
): Promise<PipelineEffects> {
  const fx = noEffects();
  const run = await findRun(app.db, input.runId);
  if (!run || !isActive(run)) {
    return fx;
  }
  const sa = await findServiceAccount(app.db, run.serviceAccountId);
  const items = (await findItems(app.db, run.id, input.itemIds)).filter((i) => i.status === 'pending');
  if (items.length === 0) {
    return fx;
  }
  if (!sa || sa.status === 'revoked') {
    await app.db.transaction(async (tx) => {
      const moved = await moveItems(
        tx,
        items.map((i) => i.id),
        'pending',
        {
          status: 'failed',
          errorKey: 'service_account_revoked',
          errorDescription: REASON_DESCRIPTIONS.service_account_revoked,
        },
      );
      await addRunCounts(tx, run.id, { failed: moved.length });
    });
    return fx;
  }
  const entries = new Map(
    (
      await findEntries(
        app.db,
        items.map((i) => i.directoryEntryId).filter((x): x is string => !!x),
      )
    ).map((e) => [e.id, e]),
  );
  const outcomes = await mapLimit(items, BATCH_PARALLELISM, (item) =>
    checkItem(
      app,
      sa,
      run,
      item,
      item.directoryEntryId ? entries.get(item.directoryEntryId) : undefined,
      opts.lastAttempt,
      opts.signal,
    ),
  );
  const decided = outcomes.filter((o): o is Outcome => o !== undefined);
  const transient = outcomes.length - decided.length;

  await app.db.transaction(async (tx) => {
    const locked = await lockRun(tx, run.id);
    if (!locked || !isActive(locked)) {
      return;
    }
    let provisioned = 0;
    let failed = 0;
    for (const o of decided) {
      if (!o.ok) {
        const moved = await moveItems(tx, [o.item.id], 'pending', {
          status: 'failed',
          errorKey: o.reason,
          errorDescription: `${REASON_DESCRIPTIONS[o.reason]}${o.detail ? ` (${o.detail.slice(0, 300)})` : ''}`,
        });
        if (moved.length === 0) {
          continue;
        }
        failed += 1;
        if (locked.callbackUrl && !locked.dryRun) {
          const id = deliveryIdFor(`run:${run.id}:${o.item.id}`);
          await storeDelivery(tx, app, {
            id,
            applicationId: locked.applicationId,
            kind: 'callback',
            url: locked.callbackUrl,
            runId: run.id,
            body: {
              authorization: {
                error: oauthErrorFor(o.reason),
                error_key: o.reason,
                error_description: REASON_DESCRIPTIONS[o.reason],
                state: locked.state,
                email: o.item.email,
              },
            },
          });
          fx.deliveries.push(id);
        }
        continue;
      }
      if (locked.dryRun) {
        provisioned += (await moveItems(tx, [o.item.id], 'pending', { status: 'would_provision' })).length;
        continue;
      }
      const { account } = await upsertProvisionedAccount(
        tx,
        {
          applicationId: locked.applicationId,
          serviceAccountId: sa.id,
          provider: sa.provider,
          kind: o.entry.kind,
          email: o.entry.email,
          name: o.entry.name,
          providerId: o.entry.providerId,
          scope: locked.scope,
          directoryEntryId: o.item.directoryEntryId,
          // verify=directory: the scheduler's first Profile check does the mailbox check, soon but spread out.
          nextCheckAt:
            locked.verify === 'directory'
              ? new Date(Date.now() + Math.random() * 3_600_000)
              : firstCheckAt(app.config.scheduler.profileCheckIntervalSecs),
          calendars: o.calendars,
        },
        {
          account: () => newId('account'),
          profile: () => newId('profile'),
          calendar: () => newId('calendar'),
        },
      );
      const moved = await moveItems(tx, [o.item.id], 'pending', {
        status: 'provisioned',
        accountId: account.id,
      });
      if (moved.length === 0) {
        continue;
      }
      provisioned += 1;
      if (locked.callbackUrl) {
        const code = newOpaqueToken();
        await insertAuthorizationCode(tx, {
          id: newId('code'),
          applicationId: locked.applicationId,
          codeHash: hashToken(code),
          subjectType: 'account',
          accountId: account.id,
          serviceAccountId: null,
          redirectUri: locked.callbackUrl,
          scope: locked.scope,
          expiresAt: new Date(Date.now() + CODE_TTL_SECS * 1000),
        });
        const id = deliveryIdFor(`run:${run.id}:${o.item.id}`);
        await storeDelivery(tx, app, {
          id,
          applicationId: locked.applicationId,
          kind: 'callback',
          url: locked.callbackUrl,
          runId: run.id,
          accountId: account.id,
          body: { authorization: { code, state: locked.state, email: o.item.email } },
        });
        fx.deliveries.push(id);
      }
    }
    await addRunCounts(tx, run.id, { provisioned, failed });
    const allListed = locked.include.every((k) => locked.cursor[k]?.done);
    if (transient === 0 && allListed && (await countPending(tx, run.id)) === 0) {
      fx.finish = true;
    }
  });
  if (transient > 0) {
    // Queue what was decided, then let BullMQ retry the batch for the rest.
    await applyEffects(app, run.id, fx);
    throw new TransientBatchError(transient);
  }
  return fx;
}

/** `runs.finish`: the final status, once nothing is pending. Idempotent. */
export async function finishRun(app: AppContext, runId: string): Promise<void> {
  await app.db.transaction(async (tx) => {
    const run = await lockRun(tx, runId);
    if (!run || !isActive(run)) {
      return;
    }
    const allListed = run.include.every((k) => run.cursor[k]?.done);
    if (!allListed || (await countPending(tx, runId)) > 0) {
      return;
    }
    await updateRun(tx, runId, {
      status: run.failed > 0 ? 'completed_with_errors' : 'completed',
      finishedAt: new Date(),
    });
  });
}
