import {
  claimDueProfiles,
  findProfileForCheck,
  type ProfileForCheck,
  type ProfileState,
  syncProfileCalendars,
  updateLeasedProfile,
} from '../db/queries/profiles.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../logger.js';
import {
  isProviderError,
  type Mailbox,
  type MailboxCalendar,
  ProviderError,
  type ProviderReason,
  SERVICE_ACCOUNT_REASONS,
} from '../providers/types.js';
import { backoffMs, CHECK_LEASE_MS, nextRegularCheckAt } from './backoff.js';
import type { AppContext } from './context.js';
import { storeProfileNotifications } from './notifications.js';
import { confirmServiceAccountBroken } from './service-account-health.js';

/**
 * Profile checks (DESIGN §7): every connected Profile is re-verified about every
 * PROFILE_CHECK_INTERVAL_SECONDS; a disconnected one is re-tried with exponential backoff from
 * RECONNECT_BACKOFF_SECONDS and reconnects by itself once the Service Account reaches the mailbox
 * again. A check = the directory still has the mailbox (not suspended, mailbox enabled) and its
 * calendars can be read with the Service Account.
 */

/** Profiles claimed per query. */
export const SWEEP_BATCH_SIZE = 1_000;
/** Batches per state per sweep: at most 20,000 checks queued per state per sweep; the rest wait a tick. */
export const SWEEP_MAX_BATCHES = 20;

export type SweepOptions = { batchSize?: number; maxBatches?: number };
export type SweepResult = { connected: number; disconnected: number; batches: number };

/**
 * `profiles.check-sweep`: claims due Profiles batch by batch through the partial indexes
 * (disconnected ones first: someone is waiting for those to come back) and queues one
 * `profiles.check` per Profile, with a job id naming the claim. Cost follows the due rows only.
 */
export async function sweepDueProfiles(
  app: Pick<AppContext, 'db' | 'enqueueBulk'>,
  opts: SweepOptions & { signal?: AbortSignal } = {},
): Promise<SweepResult> {
  const limit = opts.batchSize ?? SWEEP_BATCH_SIZE;
  const maxBatches = opts.maxBatches ?? SWEEP_MAX_BATCHES;
  const result: SweepResult = { connected: 0, disconnected: 0, batches: 0 };
  for (const state of ['disconnected', 'connected'] as const satisfies ProfileState[]) {
    for (let batch = 0; batch < maxBatches && !opts.signal?.aborted; batch++) {
      const now = new Date();
      const leaseUntil = new Date(now.getTime() + CHECK_LEASE_MS);
      const ids = await claimDueProfiles(app.db, state, { now, leaseUntil, limit });
      result.batches += 1;
      // Enqueued after the claim committed; if this fails, the claim lapses and a later sweep retries.
      await app.enqueueBulk(
        'profiles.check',
        ids.map((profileId) => ({ profileId, leaseAt: leaseUntil.getTime() })),
      );
      result[state] += ids.length;
      if (ids.length < limit) {
        break;
      }
    }
  }
  return result;
}

export type CheckOutcome =
  | 'skipped'
  | 'connected'
  | 'reconnected'
  | 'disconnected'
  | 'still_disconnected'
  | 'service_account_broken';

/**
 * The directory entry, when it can stand in for a directory read: the Profile is connected (a
 * disconnected one is re-read, its reason may have changed) and the last listing or sync, no older
 * than two sync intervals, saw the mailbox active. Directory sync handles users who leave or are
 * suspended; a check then costs one calendar read.
 */
function freshEntry(
  found: ProfileForCheck,
  syncIntervalSecs: number,
  now: number,
): Pick<Mailbox, 'kind' | 'email' | 'providerId' | 'name'> | undefined {
  const e = found.entry;
  if (
    !found.profile.connected ||
    !e ||
    e.removedAt !== null ||
    e.suspended ||
    !e.hasMailbox ||
    now - e.lastSeenAt.getTime() > 2 * syncIntervalSecs * 1000
  ) {
    return undefined;
  }
  return { kind: e.kind, email: e.email, providerId: e.providerId, name: e.name };
}

/** The mailbox as the directory has it now, and its calendars; a refusal as a ProviderError. */
async function probe(
  app: AppContext,
  found: ProfileForCheck,
  signal: AbortSignal,
): Promise<{
  mailbox: Pick<Mailbox, 'kind' | 'email' | 'providerId' | 'name'>;
  calendars: MailboxCalendar[];
}> {
  const provider = app.providers.forServiceAccount(found.serviceAccount);
  const known = freshEntry(found, app.config.scheduler.directorySyncIntervalSecs, Date.now());
  if (known) {
    return { mailbox: known, calendars: await provider.listCalendars(known, signal) };
  }
  const mailbox = await provider.findMailbox(found.account.email, signal);
  if (mailbox.suspended) {
    throw new ProviderError(provider.provider, 'user_suspended', 'The directory marks the user suspended');
  }
  if (!mailbox.hasMailbox) {
    throw new ProviderError(provider.provider, 'mailbox_not_enabled', 'The directory lists no mailbox');
  }
  const calendars = await provider.listCalendars(mailbox, signal);
  return { mailbox, calendars };
}

/**
 * `profiles.check`: one check of one Profile on the claim `leaseAt`. Idempotent: every state change
 * is conditional on the claim, so a second run (or a run after the Profile was paused, revoked or
 * re-claimed) does nothing. Transient provider failures are rethrown (the job retries or is
 * delayed) and never disconnect; on the last attempt the Profile is re-claimed for later.
 */
export async function checkProfile(
  app: AppContext,
  job: { profileId: string; leaseAt: number },
  opts: { signal: AbortSignal; lastAttempt: boolean; logger: Logger },
): Promise<CheckOutcome> {
  const found = await findProfileForCheck(app.db, job.profileId);
  if (found?.profile.nextCheckAt?.getTime() !== job.leaseAt) {
    return 'skipped';
  }
  const leaseAt = new Date(job.leaseAt);
  if (found.account.status !== 'active') {
    await updateLeasedProfile(app.db, found.profile.id, leaseAt, { nextCheckAt: null });
    return 'skipped';
  }
  if (found.serviceAccount.status !== 'active') {
    // Paused with its Service Account (service-account-health.ts); the sweep does not claim it again.
    return 'skipped';
  }
  let probed: Awaited<ReturnType<typeof probe>>;
  try {
    probed = await probe(app, found, opts.signal);
  } catch (err) {
    if (!isProviderError(err)) {
      throw err;
    }
    if (err.retryable) {
      if (opts.lastAttempt && err.reason !== 'rate_limited') {
        const now = new Date();
        const next = new Date(now.getTime() + backoffMs(1, app.config.scheduler.reconnectBackoffSecs));
        await updateLeasedProfile(app.db, found.profile.id, leaseAt, {
          lastCheckedAt: now,
          nextCheckAt: next,
        });
      }
      throw err;
    }
    if (SERVICE_ACCOUNT_REASONS.includes(err.reason)) {
      const broken = await confirmServiceAccountBroken(app, found.serviceAccount, err, opts);
      if (broken) {
        return 'service_account_broken';
      }
    }
    return recordFailure(app, found, leaseAt, err.reason);
  }
  return recordSuccess(app, found, leaseAt, probed);
}

async function recordSuccess(
  app: AppContext,
  found: ProfileForCheck,
  leaseAt: Date,
  probed: { mailbox: Pick<Mailbox, 'providerId'>; calendars: MailboxCalendar[] },
): Promise<CheckOutcome> {
  const { profile, account } = found;
  const now = new Date();
  const wasDisconnected = !profile.connected;
  const deliveryIds = await app.db.transaction(async (tx) => {
    const changed = await updateLeasedProfile(tx, profile.id, leaseAt, {
      connected: true,
      disconnectReason: null,
      disconnectedAt: null,
      failureCount: 0,
      lastCheckedAt: now,
      nextCheckAt: nextRegularCheckAt(now, app.config.scheduler.profileCheckIntervalSecs),
      providerProfileId: probed.mailbox.providerId || profile.providerProfileId,
    });
    if (!changed) {
      return undefined;
    }
    await syncProfileCalendars(tx, profile, probed.calendars, () => newId('calendar'));
    if (!wasDisconnected) {
      return [];
    }
    return storeProfileNotifications(tx, app, [
      {
        type: 'profile_connected',
        accountId: account.id,
        profile: {
          profileId: profile.id,
          profileName: profile.profileName,
          connected: true,
          disconnectReason: null,
        },
        at: now,
        eventKey: String(leaseAt.getTime()),
      },
    ]);
  });
  if (deliveryIds === undefined) {
    return 'skipped';
  }
  return wasDisconnected ? 'reconnected' : 'connected';
}

/** Records a final failure of a Profile on the claim `leaseAt` (also after a failed calendar-data call). */
export async function recordFailure(
  app: AppContext,
  found: ProfileForCheck,
  leaseAt: Date,
  reason: ProviderReason,
): Promise<CheckOutcome> {
  const { profile, account } = found;
  const now = new Date();
  const failures = profile.connected ? 1 : profile.failureCount + 1;
  const next = new Date(now.getTime() + backoffMs(failures, app.config.scheduler.reconnectBackoffSecs));
  const deliveryIds = await app.db.transaction(async (tx) => {
    const changed = await updateLeasedProfile(tx, profile.id, leaseAt, {
      connected: false,
      disconnectReason: reason,
      ...(profile.connected ? { disconnectedAt: now } : {}),
      failureCount: failures,
      lastCheckedAt: now,
      nextCheckAt: next,
    });
    if (!changed) {
      return undefined;
    }
    if (!profile.connected) {
      return [];
    }
    return storeProfileNotifications(tx, app, [
      {
        type: 'profile_disconnected',
        accountId: account.id,
        profile: {
          profileId: profile.id,
          profileName: profile.profileName,
          connected: false,
          disconnectReason: reason,
        },
        at: now,
        eventKey: String(leaseAt.getTime()),
      },
    ]);
  });
  if (deliveryIds === undefined) {
    return 'skipped';
  }
  return profile.connected ? 'disconnected' : 'still_disconnected';
}
