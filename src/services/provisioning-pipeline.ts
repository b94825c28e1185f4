import type { DbOrTx } from '../db/client.js';
import { deterministicDbErrorCode, isConnectionLostError } from '../db/errors.js';
import { findEntries } from '../db/queries/directory-entries.js';
import { upsertProvisionedAccountIds } from '../db/queries/provisioned-accounts.js';
import {
  findItems,
  hasPendingItems,
  markFailed,
  markProvisioned,
  moveItems,
} from '../db/queries/run-items.js';
import {
  addRunCountsAtCommit,
  findRun,
  isRunNotActiveError,
  lockRun,
  reasonDelta,
  updateRun,
} from '../db/queries/runs.js';
import { findServiceAccount, lockServiceAccountStatus } from '../db/queries/service-accounts.js';
import type { DirectoryEntry } from '../db/schema/directory-entries.js';
import { isActiveRunStatus, type ProvisioningRun } from '../db/schema/provisioning-runs.js';
import type { RunItem } from '../db/schema/run-items.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { describeError, RateLimitedError } from '../errors.js';
import { type Effects, jobRequest } from '../jobs/catalog.js';
import { newId } from '../lib/ids.js';
import { mapLimit } from '../lib/map-limit.js';
import { PROVISION_BATCH, type RunInclude } from '../lib/provisioning.js';
import { Semaphore } from '../lib/semaphore.js';
import { isProviderError, type MailboxCalendar, ProviderError } from '../providers/types.js';
import { firstCheckAt } from './authorizations.js';
import type { AppContext } from './context.js';
import {
  deliveryIdFor,
  type FirstAttempts,
  type NewOutbound,
  storeDeliveriesSentHere,
} from './deliveries.js';
import { oauthErrorFor, REASON_DESCRIPTIONS, type ReasonCode } from './reasons.js';

/**
 * Directory page size asked of the provider, by kind: users in the largest page each provider gives
 * (Graph 999; the Google adapter clamps to its 500), since at a provider's real latency the listing,
 * one page after the other, can bind a run; rooms in pages of 500 (Graph documents no larger page
 * for places).
 */
export const LIST_PAGE_SIZE = { users: 999, rooms: 500 } as const satisfies Record<RunInclude, number>;
/**
 * Mailbox checks in flight within one batch: all of them, each once the process's check gate
 * (checkGate) has room, and each still waiting on the shared quota limiter.
 */
export const BATCH_PARALLELISM = PROVISION_BATCH;

const checkGates = new WeakMap<AppContext, Semaphore>();

/**
 * The process's mailbox checks in flight across all of its provisioning jobs: at most
 * PROVIDER_CALLS_IN_FLIGHT. The worker runs more batches than that fills (provisioningConcurrency),
 * so while one batch is written the next one's checks already hold the places: the calls in flight,
 * not the jobs, set the pace at a provider's latency.
 */
export function checkGate(app: AppContext): Semaphore {
  let gate = checkGates.get(app);
  if (!gate) {
    gate = new Semaphore(app.config.worker.providerCallsInFlight);
    checkGates.set(app, gate);
  }
  return gate;
}

/** Jobs of later pages get a larger BullMQ priority number (run later), so small runs are not starved. */
export const priorityForPage = (page: number) => Math.min(1 + page, 2_000_000);

/**
 * The pipeline's steps (`runs.start`, `directory.list-page`, `accounts.provision`) return the jobs
 * to queue next (Effects); the job runner queues them once the step's transaction committed.
 */
export const isActive = (run: Pick<ProvisioningRun, 'status'>) => isActiveRunStatus(run.status);

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
  /** The mailbox's calendars already read with others (rooms, many per call), or that read's failure. */
  known?: Promise<MailboxCalendar[]>,
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
    const calendars = await (known ?? checkGate(app).use(() => provider.listCalendars(mailbox, signal)));
    return { item, ok: true, entry: resolved, calendars };
  } catch (err) {
    if (isProviderError(err) && (!err.retryable || lastAttempt)) {
      return { item, ok: false, reason: err.reason, detail: err.message };
    }
    if (err instanceof RateLimitedError) {
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

/**
 * The batch's rooms read together where the provider can (Google: one `freebusy.query` per 50 rooms,
 * instead of one call each against the admin's per-user quota): a promise of each room's calendars.
 */
function roomReads(
  app: AppContext,
  sa: ServiceAccount,
  entries: (DirectoryEntry | undefined)[],
  signal: AbortSignal,
): Map<string, Promise<MailboxCalendar[]>> | undefined {
  const provider = app.providers.forServiceAccount(sa);
  const rooms = entries.filter((e): e is DirectoryEntry => e?.kind === 'room');
  if (!provider.listRoomCalendars || rooms.length < 2) {
    return undefined;
  }
  const listRooms = provider.listRoomCalendars.bind(provider);
  const all = checkGate(app).use(() => listRooms(rooms, signal));
  all.catch(() => {}); // each room's promise below carries the failure
  return new Map(
    rooms.map((r) => [
      r.email,
      all.then((m) => {
        const got = m.get(r.email);
        if (got === undefined || got instanceof Error) {
          throw (
            got ??
            new ProviderError(sa.provider, 'provider_unavailable', 'The room was missing from the answer')
          );
        }
        return got;
      }),
    ]),
  );
}

/** How soon a batch that decided some items retries the rest (±50 %), without spending an attempt. */
export const PROGRESS_RETRY_MS = 2_000;

export class TransientBatchError extends Error {
  /**
   * Set when this attempt decided (and committed) some items: the rest are retried after this many
   * ms without spending an attempt, instead of waiting out a growing backoff meant for a provider
   * that fails everything. An attempt that decided nothing has no delay: the queue's exponential
   * backoff and attempt count apply, so a batch that never progresses still ends.
   */
  readonly retryInMs: number | undefined;

  constructor(
    readonly remaining: number,
    decided = 0,
  ) {
    super(`${remaining} item(s) hit transient provider errors; retrying`);
    this.name = 'TransientBatchError';
    this.retryInMs = decided > 0 ? Math.round(PROGRESS_RETRY_MS * (0.5 + Math.random())) : undefined;
  }
}

/**
 * `accounts.provision`: checks each pending item's mailbox (or trusts the directory), then in ONE
 * transaction creates or re-uses their Accounts with Profiles and Calendars, stores their callbacks
 * in the outbox (each attempt mints its own code when sent), marks the items and adds to the run's
 * counts. Items already handled (a
 * job that ran before) are skipped, so counts stay exact. Transient failures leave items pending
 * and fail the job so BullMQ retries it with backoff.
 */
export async function provisionBatch(
  app: AppContext,
  input: { runId: string; itemIds: string[] },
  opts: { lastAttempt: boolean; signal: AbortSignal },
): Promise<Effects> {
  const run = await findRun(app.db, input.runId);
  if (!run || !isActive(run)) {
    return [];
  }
  const sa = await findServiceAccount(app.db, run.serviceAccountId);
  const items = (await findItems(app.db, run.id, input.itemIds)).filter((i) => i.status === 'pending');
  if (items.length === 0) {
    return [];
  }
  let decided: Outcome[];
  let transient = 0;
  if (!sa || sa.status === 'revoked') {
    decided = items.map((item) => ({ item, ok: false, reason: 'service_account_revoked', detail: '' }));
  } else {
    const entryIds = items.map((i) => i.directoryEntryId).filter((x): x is string => !!x);
    const entries = new Map((await findEntries(app.db, entryIds)).map((e) => [e.id, e]));
    const entryOf = (item: RunItem) =>
      item.directoryEntryId ? entries.get(item.directoryEntryId) : undefined;
    const rooms = run.verify === 'mailbox' ? roomReads(app, sa, items.map(entryOf), opts.signal) : undefined;
    const outcomes = await mapLimit(items, BATCH_PARALLELISM, (item) => {
      const entry = entryOf(item);
      return checkItem(
        app,
        sa,
        run,
        item,
        entry,
        opts.lastAttempt,
        opts.signal,
        entry ? rooms?.get(entry.email) : undefined,
      );
    });
    decided = outcomes.filter((o): o is Outcome => o !== undefined);
    transient = outcomes.length - decided.length;
  }
  try {
    await writeRetryingLostConnections(opts.signal, () => writeOutcomes(app, run, sa, decided));
  } catch (err) {
    if (err instanceof RunNoLongerActive) {
      return []; // Cancelled meanwhile: nothing of this batch is kept.
    }
    const code = deterministicDbErrorCode(err);
    if (code === undefined) {
      throw err;
    }
    // The same rows would fail again on every retry: find the bad one(s) instead.
    app.logger.warn(
      { runId: run.id, code, items: decided.length },
      'batch refused by the database; recording its items one by one',
    );
    if (!(await recordOneByOne(app, run, sa, decided))) {
      return [];
    }
  }
  if (transient > 0) {
    // What was decided is committed (its callbacks are in the outbox); BullMQ retries the rest.
    throw new TransientBatchError(transient, decided.length);
  }
  // Re-read: the last directory page may have been stored while this batch ran.
  const now = await findRun(app.db, run.id);
  if (now?.include.every((k) => now.cursor[k]?.done) && !(await hasPendingItems(app.db, run.id))) {
    return [jobRequest('runs.finish', { runId: run.id })];
  }
  return [];
}

class RunNoLongerActive extends Error {}

/** Waits between tries of a batch's write whose database connection was lost (≈ 8 s in all). */
const LOST_CONNECTION_WAITS_MS = [250, 500, 1_000, 2_000, 4_000];

/**
 * A batch's write, tried again when the database connection was lost (a restart, a failover): its
 * mailbox checks are done, and a retry of the whole job would repeat every provider call. The
 * transaction rolled back, so trying it again is safe; after ≈ 8 s the job's own retry takes over.
 */
async function writeRetryingLostConnections<T>(signal: AbortSignal, write: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await write();
    } catch (err) {
      const waitMs = LOST_CONNECTION_WAITS_MS[i];
      if (waitMs === undefined || signal.aborted || !isConnectionLostError(err)) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/**
 * After the database refused a whole batch with a deterministic error (deterministicDbErrorCode):
 * each outcome in its own transaction, and one the database refuses again is recorded as `failed`
 * with `invalid_provider_data` (its callback says so), so one bad mailbox never fails its batch
 * forever. False when the run stopped meanwhile.
 */
async function recordOneByOne(
  app: AppContext,
  run: ProvisioningRun,
  sa: ServiceAccount | undefined,
  decided: Outcome[],
): Promise<boolean> {
  for (const outcome of decided) {
    try {
      await writeOutcomes(app, run, sa, [outcome]);
    } catch (err) {
      if (err instanceof RunNoLongerActive) {
        return false;
      }
      const code = deterministicDbErrorCode(err);
      if (code === undefined) {
        throw err;
      }
      app.logger.warn({ runId: run.id, itemId: outcome.item.id, code }, 'run item refused by the database');
      const failed: Outcome = {
        item: outcome.item,
        ok: false,
        reason: 'invalid_provider_data',
        detail: `Postgres error ${code}`,
      };
      try {
        await writeOutcomes(app, run, sa, [failed]);
      } catch (again) {
        if (again instanceof RunNoLongerActive) {
          return false;
        }
        throw again;
      }
    }
  }
  return true;
}

/**
 * recordOutcomes in a transaction of its own; RunNoLongerActive when the run stopped meanwhile
 * (nothing was kept: the transaction rolled back at its commit).
 */
async function writeOutcomes(
  app: AppContext,
  run: ProvisioningRun,
  sa: ServiceAccount | undefined,
  decided: Outcome[],
): Promise<void> {
  let counted: { active: Promise<boolean>; first: FirstAttempts | undefined } | undefined;
  try {
    await app.db.transaction(async (tx) => {
      counted = await recordOutcomes(app, tx, run, sa, decided);
    });
  } catch (err) {
    counted?.first?.release();
    throw isRunNotActiveError(err) ? new RunNoLongerActive() : err;
  }
  if (counted && !(await counted.active)) {
    counted.first?.release();
    throw new RunNoLongerActive();
  }
  // Committed: this process sends the first attempts it took (the rest wait for a claim).
  await counted?.first?.send().catch((err: unknown) => {
    app.logger.warn({ runId: run.id, err: describeError(err) }, 'first callbacks left to the outbox');
  });
}

/**
 * Writes a batch's outcomes in a handful of multi-row statements: Accounts, Profiles and Calendars;
 * item statuses (only items still pending move, so a duplicate job changes nothing); callbacks for
 * the items that moved; and, last, the run's counts, sent with the COMMIT (addRunCountsAtCommit: the
 * run row is locked only inside Postgres, and the batch rolls back if the run was cancelled
 * meanwhile). It starts by share-locking the Service Account: a revocation either waits for this
 * batch to commit or is seen here, and then nothing is written.
 */
async function recordOutcomes(
  app: AppContext,
  tx: DbOrTx,
  run: ProvisioningRun,
  sa: ServiceAccount | undefined,
  decided: Outcome[],
): Promise<{ active: Promise<boolean>; first: FirstAttempts | undefined }> {
  if (sa && sa.status !== 'revoked') {
    const status = await lockServiceAccountStatus(tx, sa.id);
    if (status === undefined || status === 'revoked') {
      throw new RunNoLongerActive(); // Revoked since the batch began: its run was cancelled with it.
    }
  }
  const failures = decided.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
  const successes = decided.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  const failedIds = new Set(
    await markFailed(
      tx,
      failures.map((o) => ({
        itemId: o.item.id,
        errorKey: o.reason,
        errorDescription: `${REASON_DESCRIPTIONS[o.reason]}${o.detail ? ` (${o.detail.slice(0, 300)})` : ''}`,
      })),
    ),
  );
  let provisioned = 0;
  const moved: { item: RunItem; accountId: string }[] = [];
  if (run.dryRun) {
    provisioned = (
      await moveItems(
        tx,
        successes.map((o) => o.item.id),
        'pending',
        { status: 'would_provision' },
      )
    ).length;
  } else if (sa && successes.length > 0) {
    const accountIds = await upsertProvisionedAccountIds(
      tx,
      successes.map((o) => ({
        applicationId: run.applicationId,
        serviceAccountId: sa.id,
        provider: sa.provider,
        kind: o.entry.kind,
        email: o.entry.email,
        name: o.entry.name,
        providerId: o.entry.providerId,
        scope: run.scope,
        directoryEntryId: o.item.directoryEntryId,
        // verify=directory: the scheduler's first Profile check does the mailbox check, soon but spread out.
        nextCheckAt:
          run.verify === 'directory'
            ? new Date(Date.now() + Math.random() * 3_600_000)
            : firstCheckAt(app.config.scheduler.profileCheckIntervalSecs),
        calendars: o.calendars,
      })),
      { account: () => newId('account'), profile: () => newId('profile'), calendar: () => newId('calendar') },
    );
    const pairs = successes.map((o, i) => ({ item: o.item, accountId: accountIds[i] ?? '' }));
    const movedIds = new Set(
      await markProvisioned(
        tx,
        pairs.map((p) => ({ itemId: p.item.id, accountId: p.accountId })),
      ),
    );
    moved.push(...pairs.filter((p) => movedIds.has(p.item.id)));
    provisioned = moved.length;
  }
  let first: FirstAttempts | undefined;
  if (run.callbackUrl && !run.dryRun) {
    const callbackUrl = run.callbackUrl;
    const callback = (
      itemId: string,
      authorization: Record<string, unknown>,
      accountId: string | null,
    ): NewOutbound => ({
      id: deliveryIdFor(`run:${run.id}:${itemId}`),
      applicationId: run.applicationId,
      kind: 'callback',
      url: callbackUrl,
      body: { authorization },
      runId: run.id,
      accountId,
      codeScope: accountId ? run.scope : null,
    });
    first = await storeDeliveriesSentHere(tx, app, [
      ...moved.map(({ item, accountId }) =>
        callback(item.id, { state: run.state, email: item.email }, accountId),
      ),
      ...failures
        .filter((f) => failedIds.has(f.item.id))
        .map((o) =>
          callback(
            o.item.id,
            {
              error: oauthErrorFor(o.reason),
              error_key: o.reason,
              error_description: REASON_DESCRIPTIONS[o.reason],
              state: run.state,
              email: o.item.email,
            },
            null,
          ),
        ),
    ]);
  }
  // Last, sent with the COMMIT (addRunCountsAtCommit): `active` is false once the run has stopped.
  try {
    const reasons = reasonDelta(
      failures.filter((f) => failedIds.has(f.item.id)).map((f) => ({ status: 'failed', errorKey: f.reason })),
    );
    return { ...addRunCountsAtCommit(tx, run.id, { provisioned, failed: failedIds.size }, reasons), first };
  } catch (err) {
    first?.release();
    throw err;
  }
}

/** `runs.finish`: the final status, once nothing is pending. Idempotent. */
export async function finishRun(app: AppContext, runId: string): Promise<void> {
  // Cheap check first: only take the run's lock when it looks finished.
  if (await hasPendingItems(app.db, runId)) {
    return;
  }
  await app.db.transaction(async (tx) => {
    const run = await lockRun(tx, runId);
    if (!run || !isActive(run)) {
      return;
    }
    const allListed = run.include.every((k) => run.cursor[k]?.done);
    if (!allListed || (await hasPendingItems(tx, runId))) {
      return;
    }
    await updateRun(tx, runId, {
      status: run.failed > 0 ? 'completed_with_errors' : 'completed',
      finishedAt: new Date(),
    });
  });
}
