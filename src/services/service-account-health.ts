import { pauseServiceAccountProfiles, resumeServiceAccountProfiles } from '../db/queries/profiles.js';
import {
  claimDueHealthChecks,
  lockServiceAccountStatus,
  markServiceAccountBroken,
  markServiceAccountHealthy,
  recordHealthFailure,
} from '../db/queries/service-account-health.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isProviderError, type ProviderError } from '../providers/types.js';
import { backoffMs, CHECK_LEASE_MS } from './backoff.js';
import type { AppContext } from './context.js';
import { storeProfileNotifications } from './notifications.js';

/**
 * Service Account health. When the Service Account itself stops working (delegation revoked for the
 * domain, consent withdrawn, key or secret expired) it is marked broken once and all its Profiles are
 * disconnected and paused in one statement: no per-Profile provider call while it is broken. A
 * health check (`provider.verify()`, one directory page) runs with backoff; when it passes, the
 * Service Account is active again and its Profiles are due at once, so each reconnects by itself.
 */

/** Broken Service Accounts claimed per health sweep. */
export const HEALTH_SWEEP_BATCH_SIZE = 500;
/**
 * Resumed Profiles are spread over this window (or one sweep interval, if shorter) so their checks
 * do not all start together. Default 30 s.
 */
export const RESUME_SPREAD_MS = 30_000;

/**
 * A Profile check was refused for a reason that names the Service Account. The refusal can still be
 * about this one mailbox (e.g. a Microsoft application access policy leaving it out), so the
 * Service Account is verified once: broken → marked (and true returned), working → false (the
 * Profile is disconnected on its own).
 */
export async function confirmServiceAccountBroken(
  app: AppContext,
  sa: ServiceAccount,
  refusal: ProviderError,
  opts: { signal: AbortSignal; logger: Logger },
): Promise<boolean> {
  const fresh = await findServiceAccount(app.db, sa.id);
  if (fresh?.status !== 'active') {
    return true;
  }
  try {
    await app.providers.forServiceAccount(fresh).verify(opts.signal);
    return false;
  } catch (err) {
    if (!isProviderError(err) || err.retryable) {
      throw err;
    }
    await breakServiceAccount(app, fresh, err, opts.logger);
    opts.logger.warn(
      { serviceAccountId: sa.id, reason: err.reason, profileReason: refusal.reason },
      'service account broken; its profile checks are paused',
    );
    return true;
  }
}

/** Marks the Service Account broken (once) and queues the pause of its Profiles. */
export async function breakServiceAccount(
  app: AppContext,
  sa: Pick<ServiceAccount, 'id'>,
  err: ProviderError,
  logger: Logger,
): Promise<boolean> {
  const now = new Date();
  const marked = await markServiceAccountBroken(app.db, sa.id, {
    reason: err.reason,
    message: describeError(err),
    now,
    nextHealthCheckAt: new Date(now.getTime() + backoffMs(1, app.config.scheduler.reconnectBackoffSecs)),
  });
  if (marked) {
    logger.warn({ serviceAccountId: sa.id, reason: err.reason }, 'service account marked broken');
    await app.enqueue(
      'service-accounts.pause-profiles',
      { serviceAccountId: sa.id },
      { round: now.getTime() },
    );
  }
  return marked;
}

/**
 * `service-accounts.pause-profiles`: disconnects (with the Service Account's reason) and pauses
 * every checked Profile of a broken Service Account, and notifies the Accounts' Channels. Idempotent:
 * Profiles already paused are left alone; nothing happens once the Service Account is active again.
 */
export async function pauseProfilesOfBrokenServiceAccount(
  app: AppContext,
  serviceAccountId: string,
): Promise<{ notified: number } | undefined> {
  const now = new Date();
  const deliveryIds = await app.db.transaction(async (tx) => {
    const sa = await lockServiceAccountStatus(tx, serviceAccountId);
    if (sa?.status !== 'broken') {
      return undefined;
    }
    const reason = sa.brokenReason ?? 'invalid_credentials';
    const disconnected = await pauseServiceAccountProfiles(tx, serviceAccountId, reason, now);
    return storeProfileNotifications(
      tx,
      app,
      disconnected.map((d) => ({
        type: 'profile_disconnected' as const,
        accountId: d.accountId,
        profile: {
          profileId: d.profileId,
          profileName: d.profileName,
          connected: false,
          disconnectReason: reason,
        },
        at: now,
        eventKey: `sa-${now.getTime()}`,
      })),
    );
  });
  if (deliveryIds === undefined) {
    return undefined;
  }
  return { notified: deliveryIds.length };
}

/** `service-accounts.health-sweep`: queues a health check for each broken Service Account that is due. */
export async function sweepHealthChecks(app: Pick<AppContext, 'db' | 'enqueueBulk'>): Promise<number> {
  const now = new Date();
  const leaseUntil = new Date(now.getTime() + CHECK_LEASE_MS);
  const ids = await claimDueHealthChecks(app.db, { now, leaseUntil, limit: HEALTH_SWEEP_BATCH_SIZE });
  await app.enqueueBulk(
    'service-accounts.health-check',
    ids.map((serviceAccountId) => ({ serviceAccountId, leaseAt: leaseUntil.getTime() })),
  );
  return ids.length;
}

export type HealthOutcome = 'skipped' | 'healthy' | 'still_broken';

/**
 * `service-accounts.health-check`: verifies a broken Service Account on the claim `leaseAt`.
 * Works → active again, and its Profiles due now (in the same transaction). Fails → checked again
 * after a doubling delay (capped at a day); stragglers (Profiles reconnected by a check that was
 * already running when it broke) are paused too.
 */
export async function checkServiceAccountHealth(
  app: AppContext,
  job: { serviceAccountId: string; leaseAt: number },
  opts: { signal: AbortSignal; logger: Logger },
): Promise<HealthOutcome> {
  const sa = await findServiceAccount(app.db, job.serviceAccountId);
  if (sa?.status !== 'broken' || sa.nextHealthCheckAt?.getTime() !== job.leaseAt) {
    return 'skipped';
  }
  const leaseAt = new Date(job.leaseAt);
  // A fresh client: the cached one may remember the refusal (and serve it again for a while).
  app.providers.evict(sa.id);
  try {
    await app.providers.forServiceAccount(sa).verify(opts.signal);
  } catch (err) {
    if (!isProviderError(err) || err.reason === 'rate_limited') {
      throw err;
    }
    const failureCount = sa.failureCount + 1;
    const next = new Date(Date.now() + backoffMs(failureCount, app.config.scheduler.reconnectBackoffSecs));
    await recordHealthFailure(app.db, sa.id, leaseAt, {
      // A provider outage says nothing new about why the Service Account is broken.
      reason: err.retryable ? (sa.brokenReason ?? err.reason) : err.reason,
      message: describeError(err),
      failureCount,
      next,
    });
    await pauseProfilesOfBrokenServiceAccount(app, sa.id);
    opts.logger.info(
      { serviceAccountId: sa.id, reason: err.reason, failureCount, nextHealthCheckAt: next.toISOString() },
      'service account still broken',
    );
    return 'still_broken';
  }
  const resumed = await app.db.transaction(async (tx) => {
    if (!(await markServiceAccountHealthy(tx, sa.id, leaseAt))) {
      return undefined;
    }
    const spreadMs = Math.min(RESUME_SPREAD_MS, app.config.scheduler.sweepIntervalSecs * 1000);
    return resumeServiceAccountProfiles(tx, sa.id, new Date(), spreadMs);
  });
  if (resumed === undefined) {
    return 'skipped';
  }
  opts.logger.info({ serviceAccountId: sa.id, profiles: resumed }, 'service account healthy again');
  return 'healthy';
}
