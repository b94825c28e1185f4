import { claimProfileCheckNow, findProfileForCheck, PAUSED_CHECK_AT } from '../db/queries/profiles.js';
import type { MailboxKind, ProviderName } from '../db/schema/columns.js';
import { ServiceUnavailableError } from '../errors.js';
import { withDeadline } from '../lib/deadline.js';
import { CHECK_LEASE_MS } from './backoff.js';
import type { AppContext } from './context.js';
import { describeReason, type Fix, fixFor } from './relink-fixes.js';

/**
 * The relink page behind `profile_relink_url` (DESIGN §6): a Profile's state in words, what the
 * organization's admin must grant to fix it, and a rate-limited "check now". Whoever holds the URL may
 * use it, as with Cronofy's relink URL: the random Profile id in the path is the only credential.
 */

/** Profile ids as `newId('profile')` makes them (26 characters after `pro_`), with room to spare. */
const PROFILE_ID = /^pro_[a-z0-9_]{1,60}$/;

/** At most one requested check per Profile per this window, shared by every API process. Default 60 s. */
export const CHECK_NOW_INTERVAL_MS = 60_000;

export function isProfileId(value: string): boolean {
  return PROFILE_ID.test(value);
}

export type RelinkState = 'connected' | 'disconnected' | 'paused' | 'revoked';

/** One thing to do; `code` is text to copy (a value, a scope list, a command). */

export type RelinkView = {
  profileId: string;
  profileName: string;
  email: string;
  kind: MailboxKind;
  provider: ProviderName;
  domain: string;
  state: RelinkState;
  /** Why: the Profile's reason code (or, revoked, what was revoked). Null when connected. */
  reason: string | null;
  reasonDescription: string | null;
  disconnectedAt: Date | null;
  lastCheckedAt: Date | null;
  /** The next automatic check; paused Profiles: the Service Account's next health check. */
  nextCheckAt: Date | null;
  failureCount: number;
  fix: Fix | null;
  /** The last requested check, while its rate-limit window lasts. */
  checkNow: { queuedAt: Date | null; retryInSecs: number };
};

const rateKey = (app: Pick<AppContext, 'config'>, profileId: string) =>
  `${app.config.redis.queuePrefix}:relink-check:${profileId}`;

/** How long the relink page waits for Redis (the check-now window) before doing without it. */
const REDIS_WAIT_MS = 1_000;
const redisDown = () => new ServiceUnavailableError(5_000, 'Redis is not answering');

async function checkNowWindow(app: Pick<AppContext, 'config' | 'redis'>, profileId: string) {
  const read = app.redis().multi().get(rateKey(app, profileId)).pttl(rateKey(app, profileId)).exec();
  // Without Redis the page still shows the Profile; only the last check-now request is unknown.
  const answer = (await withDeadline(read, REDIS_WAIT_MS, redisDown).catch(() => null)) as
    | [[unknown, string | null], [unknown, number]]
    | null;
  if (!answer) {
    return { queuedAt: null, retryInSecs: 0 };
  }
  const [[, value], [, pttl]] = answer;
  const at = Number(value);
  return {
    queuedAt: value !== null && Number.isFinite(at) ? new Date(at) : null,
    retryInSecs: pttl > 0 ? Math.ceil(pttl / 1000) : 0,
  };
}

/** The relink page's content, or undefined for an id that names no Profile. */
export async function relinkView(
  app: Pick<AppContext, 'config' | 'db' | 'redis'>,
  profileId: string,
): Promise<RelinkView | undefined> {
  if (!isProfileId(profileId)) {
    return undefined;
  }
  const found = await findProfileForCheck(app.db, profileId);
  if (!found) {
    return undefined;
  }
  const { profile, account, serviceAccount: sa } = found;
  const revoked = account.status !== 'active' || sa.status === 'revoked' || profile.nextCheckAt === null;
  const paused =
    !revoked && (sa.status === 'broken' || profile.nextCheckAt?.getTime() === PAUSED_CHECK_AT.getTime());
  const state: RelinkState = revoked
    ? 'revoked'
    : paused
      ? 'paused'
      : profile.connected
        ? 'connected'
        : 'disconnected';
  const reason =
    state === 'revoked'
      ? sa.status === 'revoked'
        ? 'service_account_revoked'
        : account.status !== 'active'
          ? 'account_revoked'
          : 'profile_revoked'
      : profile.connected && !paused
        ? null
        : (profile.disconnectReason ?? sa.brokenReason ?? 'unknown');
  return {
    profileId: profile.id,
    profileName: profile.profileName,
    email: account.email,
    kind: account.kind,
    provider: profile.provider,
    domain: sa.domain,
    state,
    reason,
    reasonDescription: reason === null ? null : describeReason(reason),
    disconnectedAt: profile.connected ? null : profile.disconnectedAt,
    lastCheckedAt: profile.lastCheckedAt,
    nextCheckAt: revoked ? null : paused ? sa.nextHealthCheckAt : profile.nextCheckAt,
    failureCount: profile.failureCount,
    fix:
      reason === null || state === 'revoked'
        ? null
        : fixFor(reason, {
            provider: profile.provider,
            clientId: sa.providerClientId,
            domain: sa.domain,
            adminEmail: sa.adminEmail,
            tenantId: sa.tenantId,
            email: account.email,
            kind: account.kind,
          }),
    checkNow: await checkNowWindow(app, profile.id),
  };
}

export type CheckNowResult =
  | { outcome: 'queued' }
  | { outcome: 'rate_limited'; retryInSecs: number }
  | { outcome: 'not_checkable'; state: RelinkState }
  | { outcome: 'not_found' };

/**
 * "Check now": claims the Profile for an immediate `profiles.check`, at most once per
 * CHECK_NOW_INTERVAL_MS per Profile (a Redis `SET NX PX`, so every API process shares the window).
 * Revoked Profiles are never checked; paused ones wait for their Service Account's health check.
 */
export async function requestProfileCheck(
  app: Pick<AppContext, 'config' | 'db' | 'redis' | 'enqueue'>,
  profileId: string,
): Promise<CheckNowResult> {
  const view = await relinkView(app, profileId);
  if (!view) {
    return { outcome: 'not_found' };
  }
  if (view.state === 'revoked' || view.state === 'paused') {
    return { outcome: 'not_checkable', state: view.state };
  }
  const now = Date.now();
  const key = rateKey(app, profileId);
  const set = await withDeadline(
    app.redis().set(key, String(now), 'PX', CHECK_NOW_INTERVAL_MS, 'NX'),
    REDIS_WAIT_MS,
    redisDown,
  );
  if (set !== 'OK') {
    const pttl = await app.redis().pttl(key);
    return { outcome: 'rate_limited', retryInSecs: Math.max(1, Math.ceil(pttl / 1000)) };
  }
  try {
    const leaseUntil = new Date(now + CHECK_LEASE_MS);
    if (!(await claimProfileCheckNow(app.db, profileId, leaseUntil))) {
      // Revoked or paused since the page was read.
      await app.redis().del(key);
      return { outcome: 'not_checkable', state: 'revoked' };
    }
    // Round = this minute: one job per Profile per minute (the window puts two allowed requests in
    // different minutes), never the sweep's `check-<id>-<lease>`. If this enqueue is lost, the claim
    // lapses after CHECK_LEASE_MS and a sweep checks the Profile.
    await app.enqueue(
      'profiles.check',
      { profileId, leaseAt: leaseUntil.getTime() },
      { round: Math.floor(now / 60_000) },
    );
  } catch (err) {
    // Best effort: with Redis gone the window is gone too (or lapses after CHECK_NOW_INTERVAL_MS).
    await withDeadline(app.redis().del(key), REDIS_WAIT_MS, redisDown).catch(() => {});
    throw err;
  }
  return { outcome: 'queued' };
}

export type { Fix } from './relink-fixes.js';
