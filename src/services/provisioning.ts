import { z } from 'zod';
import { countPendingCallbacks } from '../db/queries/deliveries.js';
import { moveItems, pageItems, pendingItemIds, reasonsOfRun } from '../db/queries/run-items.js';
import {
  addRunCounts,
  findRun,
  insertRun,
  listRuns,
  markRunCancelled,
  reasonDelta,
  updateRun,
} from '../db/queries/runs.js';
import { type ProvisioningRun, VERIFY_STRATEGIES } from '../db/schema/provisioning-runs.js';
import { RUN_ITEM_STATUSES, type RunItem } from '../db/schema/run-items.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { ConflictError, describeError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { newId } from '../lib/ids.js';
import { checkOutboundUrl, OutboundUrlError } from '../lib/outbound-http.js';
import { provisionBatches, RUN_INCLUDES } from '../lib/provisioning.js';
import type { AppContext } from './context.js';
import { scopeWithin, serviceAccountScopeAllows } from './scopes.js';
import {
  copyDefaultSelection,
  resolveSelection,
  selectionInputSchema,
  selectionJson,
  storeSelection,
} from './selection.js';

export const runRequestSchema = z.object({
  include: z
    .array(z.enum(RUN_INCLUDES))
    .min(1)
    .max(2)
    .optional()
    .describe('Default ["users","rooms"]; ["users"] when the run has a selection'),
  callback_url: z.string().min(1).max(2048).nullish(),
  scope: z.string().min(1).max(1000).default('read_write'),
  state: z.string().max(2048).nullish(),
  verify: z.enum(VERIFY_STRATEGIES).default('mailbox'),
  dry_run: z.boolean().default(false),
  /** Part of the directory (services/selection.ts); default: the Service Account's own selection, if any. */
  selection: selectionInputSchema.optional(),
});
export type RunRequest = z.infer<typeof runRequestSchema>;

/** Starts onboarding a Service Account's directory; the work happens in queue jobs. */
export async function createRun(
  app: AppContext,
  sa: ServiceAccount,
  tokenScope: string | null,
  input: RunRequest,
): Promise<ProvisioningRun> {
  if (tokenScope !== null && !serviceAccountScopeAllows(tokenScope, 'accounts')) {
    throw new ForbiddenError('The Service Account token lacks service_account/accounts/manage');
  }
  if (!scopeWithin(input.scope, sa.delegatedScope)) {
    throw new ForbiddenError(
      `scope "${input.scope}" is not within the delegated scope "${sa.delegatedScope}"`,
    );
  }
  if (input.callback_url) {
    try {
      await checkOutboundUrl(input.callback_url, app.config.outbound.allowPrivate);
    } catch (err) {
      throw new ValidationError('Invalid callback_url', {
        callback_url: [err instanceof OutboundUrlError ? err.message : 'is not a usable URL'],
      });
    }
  }
  // A selection of the request is checked live (its org units and groups exist); the Service
  // Account's default one was checked when it was stored.
  const resolved = input.selection
    ? await resolveSelection(app.providers.forServiceAccount(sa), sa.provider, input.selection)
    : undefined;
  const selection = resolved?.selection ?? sa.selection ?? null;
  const include = input.include ?? (selection ? ['users' as const] : (['users', 'rooms'] as const));
  const id = newId('run');
  const run = await app.db.transaction(async (tx) => {
    const row = await insertRun(tx, {
      id,
      applicationId: sa.applicationId,
      serviceAccountId: sa.id,
      include: [...new Set(include)],
      verify: input.verify,
      dryRun: input.dry_run,
      callbackUrl: input.callback_url ?? null,
      scope: input.scope,
      state: input.state ?? null,
      selection,
    });
    if (resolved) {
      await storeSelection(tx, { ownerId: id, serviceAccountId: sa.id }, resolved);
    } else if (selection) {
      await copyDefaultSelection(tx, sa.id, id, selection);
    }
    return row;
  });
  try {
    await app.enqueue('runs.start', { runId: run.id });
  } catch (err) {
    // Recorded all the same: the reconciler starts a queued run once Redis answers again.
    app.logger.warn({ err: describeError(err), runId: run.id }, 'queueing a run start failed');
  }
  return run;
}

/** This Service Account's most recent runs, newest first. */
export function listRunsOf(
  app: AppContext,
  sa: Pick<ServiceAccount, 'id'>,
  limit: number,
): Promise<ProvisioningRun[]> {
  return listRuns(app.db, { serviceAccountId: sa.id, limit });
}

/** A run of this Service Account (404 for anyone else's). */
export async function getOwnedRun(
  app: AppContext,
  sa: Pick<ServiceAccount, 'id'>,
  runId: string,
): Promise<ProvisioningRun> {
  const run = await findRun(app.db, runId);
  if (!run || run.serviceAccountId !== sa.id) {
    throw new NotFoundError('Provisioning run', runId);
  }
  return run;
}

/** Whether a run status is one of the active ones (queued, listing, provisioning). */
export { isActiveRunStatus } from '../db/schema/provisioning-runs.js';

export type RunView = ReturnType<typeof runJson>;

export function runJson(run: ProvisioningRun) {
  const reasons = reasonsOfRun(run.id, run.reasonCounts);
  const done = run.provisioned + run.skipped + run.failed;
  const end = run.finishedAt ?? new Date();
  const elapsedSecs = run.startedAt ? Math.max(0.001, (end.getTime() - run.startedAt.getTime()) / 1000) : 0;
  const rate = elapsedSecs > 0 ? done / elapsedSecs : 0;
  const remaining = Math.max(0, run.listed - done);
  const listing = run.include.some((k) => !run.cursor[k]?.done);
  return {
    id: run.id,
    service_account_id: run.serviceAccountId,
    status: run.status,
    include: run.include,
    verify: run.verify,
    dry_run: run.dryRun,
    callback_url: run.callbackUrl,
    scope: run.scope,
    state: run.state,
    selection: selectionJson(run.selection),
    // The four counts of DESIGN §6 at the top level, and all counts grouped under `counts`.
    listed: run.listed,
    provisioned: run.dryRun ? 0 : run.provisioned,
    skipped: run.skipped,
    failed: run.failed,
    counts: {
      listed: run.listed,
      provisioned: run.dryRun ? 0 : run.provisioned,
      ...(run.dryRun ? { would_provision: run.provisioned } : {}),
      skipped: run.skipped,
      failed: run.failed,
      pending: remaining,
    },
    listing_complete: !listing,
    rate_per_second: Math.round(rate * 100) / 100,
    eta_seconds: listing || rate === 0 ? null : Math.ceil(remaining / rate),
    failures_by_reason: reasons
      .filter((r) => r.status === 'failed')
      .map((r) => ({ error_key: r.errorKey, count: r.count })),
    skipped_by_reason: reasons
      .filter((r) => r.status === 'skipped')
      .map((r) => ({ error_key: r.errorKey, count: r.count })),
    error: run.error,
    created_at: run.createdAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
  };
}

/**
 * One run in full: its counts and reasons, and `callbacks_pending`, the callbacks the app is still
 * waiting for (stored, not yet delivered: queued in the outbox or being retried).
 */
export async function describeRun(app: AppContext, run: ProvisioningRun) {
  return { ...runJson(run), callbacks_pending: await countPendingCallbacks(app.db, run.id) };
}

export const itemsQuerySchema = z.object({
  status: z.enum(RUN_ITEM_STATUSES).optional(),
  cursor: z
    .string()
    .regex(/^itm_[a-z2-7]{26}$/, 'must be a cursor returned by a previous page')
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function itemJson(item: RunItem) {
  return {
    id: item.id,
    email: item.email,
    kind: item.kind,
    status: item.status,
    error_key: item.errorKey,
    error_description: item.errorDescription,
    account_id: item.accountId,
    attempts: item.attempts,
    updated_at: item.updatedAt.toISOString(),
  };
}

export async function itemsPage(app: AppContext, run: ProvisioningRun, q: z.infer<typeof itemsQuerySchema>) {
  const rows = await pageItems(app.db, run.id, { status: q.status, after: q.cursor, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  return {
    items: page.map(itemJson),
    next_cursor: rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}

/** Re-queues the failed items (only those) of a finished or running run. */
export async function retryRun(app: AppContext, run: ProvisioningRun): Promise<{ requeued: number }> {
  if (run.status === 'cancelled' || run.dryRun) {
    throw new ConflictError(`A ${run.dryRun ? 'dry' : 'cancelled'} run cannot be retried; start a new run`);
  }
  let requeued = 0;
  const batches: string[][] = [];
  await app.db.transaction(async (tx) => {
    let after = '';
    const unfailed: RunItem[] = [];
    for (;;) {
      const failed = await pageItems(tx, run.id, { status: 'failed', after, limit: 1000 });
      if (failed.length === 0) {
        break;
      }
      const moved = new Set(
        await moveItems(
          tx,
          failed.map((i) => i.id),
          'failed',
          { status: 'pending' },
        ),
      );
      unfailed.push(...failed.filter((i) => moved.has(i.id)));
      after = failed[failed.length - 1]?.id ?? after;
    }
    requeued = unfailed.length;
    if (requeued === 0) {
      return;
    }
    await addRunCounts(tx, run.id, { failed: -requeued }, reasonDelta(unfailed, -1));
    await updateRun(tx, run.id, { status: 'provisioning', finishedAt: null });
  });
  let after = '';
  for (;;) {
    const ids = await pendingItemIds(app.db, run.id, after, 1000);
    batches.push(...provisionBatches(ids, run.verify));
    if (ids.length < 1000) {
      break;
    }
    after = ids[ids.length - 1] ?? after;
  }
  // A round of its own (ms; the reconciler's rounds are minutes): the batches' first jobs may
  // still exist, failed.
  const round = Date.now();
  try {
    for (const itemIds of batches) {
      await app.enqueue('accounts.provision', { runId: run.id, itemIds }, { round, priority: 1 });
    }
  } catch (err) {
    // The items are pending in Postgres: the reconciler queues them once Redis answers again.
    app.logger.warn({ err: describeError(err), runId: run.id }, 'queueing retried items failed');
  }
  return { requeued };
}

/**
 * Stops a run promptly: Accounts already created stay. First the status flips (a short
 * transaction), so every batch still in flight rolls itself back when it finds the run no longer
 * active; then the pending items are marked cancelled, in chunks. Lock order everywhere is items
 * first, run row last, so this never deadlocks with running batches.
 */
export async function cancelRun(app: AppContext, run: ProvisioningRun): Promise<{ cancelled: number }> {
  if (!(await markRunCancelled(app.db, run.id))) {
    return { cancelled: 0 };
  }
  let cancelled = 0;
  for (;;) {
    const ids = await pendingItemIds(app.db, run.id, '', 5000);
    cancelled += (await moveItems(app.db, ids, 'pending', { status: 'cancelled' })).length;
    if (ids.length < 5000) {
      break;
    }
  }
  return { cancelled };
}
