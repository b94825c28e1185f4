/**
 * The provider quotas we enforce before every call, their documented defaults, per-Service-Account
 * overrides and the safety margin (docs/providers.md "Quotas"). Pure: the Redis side is limiter.ts.
 */

/** One quota: `points` calls per `durationSecs`, counted per key (see QUOTA_KEYS). */
export type QuotaLimit = { points: number; durationSecs: number };

/**
 * The quotas. Rate quotas count calls in a sliding window; `microsoft.mailbox.concurrent` is a
 * concurrency limit: `points` requests in flight at once, `durationSecs` the lease after which a
 * crashed process's slot is freed.
 */
export const QUOTA_NAMES = [
  'google.directory',
  'google.calendar.user',
  'google.calendar.project',
  'microsoft.directory',
  'microsoft.mailbox',
  'microsoft.mailbox.concurrent',
] as const;

export type QuotaName = (typeof QUOTA_NAMES)[number];

/**
 * Per-Service-Account overrides, e.g. `{ "google.directory": { points: 4800, durationSecs: 60 } }`
 * (stored as JSON, so keyed by string; names other than QUOTA_NAMES are ignored).
 */
export type QuotaOverrides = Partial<Record<string, Partial<QuotaLimit>>>;

/**
 * The providers' documented limits (providers.md §2.5, §4.5):
 * - Google Admin SDK Directory: 2,400 queries per minute (per user per Cloud project; all our
 *   Directory calls impersonate the one admin, so per Service Account);
 * - Google Calendar: 600 per minute per impersonated user and 10,000 per minute per project;
 * - Microsoft Graph identity (`/users`, `/places`): 3,500 resource units per 10 s for the smallest
 *   tenant size; a `$select`ed `GET /users` page costs 1 unit;
 * - Microsoft Graph Outlook: 10,000 requests per 10 minutes per app per mailbox, 4 concurrent.
 */
export const DEFAULT_QUOTAS: Readonly<Record<QuotaName, QuotaLimit>> = {
  'google.directory': { points: 2400, durationSecs: 60 },
  'google.calendar.user': { points: 600, durationSecs: 60 },
  'google.calendar.project': { points: 10_000, durationSecs: 60 },
  'microsoft.directory': { points: 3500, durationSecs: 10 },
  'microsoft.mailbox': { points: 10_000, durationSecs: 600 },
  'microsoft.mailbox.concurrent': { points: 4, durationSecs: 60 },
};

/** The share of a rate quota we allow ourselves, leaving room for clock skew and other clients. */
export const DEFAULT_SAFETY_MARGIN = 0.95;

/** What a provider call counts against. */
export type ProviderApi =
  | 'google.directory'
  | 'google.calendar'
  | 'microsoft.directory'
  | 'microsoft.mailbox';

/** The rate quotas each API counts against, and whether the key includes the mailbox. */
export const API_QUOTAS: Readonly<Record<ProviderApi, readonly { quota: QuotaName; perMailbox: boolean }[]>> =
  {
    'google.directory': [{ quota: 'google.directory', perMailbox: false }],
    'google.calendar': [
      { quota: 'google.calendar.user', perMailbox: true },
      { quota: 'google.calendar.project', perMailbox: false },
    ],
    'microsoft.directory': [{ quota: 'microsoft.directory', perMailbox: false }],
    'microsoft.mailbox': [{ quota: 'microsoft.mailbox', perMailbox: true }],
  };

export function resolveQuota(name: QuotaName, overrides: QuotaOverrides | undefined): QuotaLimit {
  const base = DEFAULT_QUOTAS[name];
  const o = overrides?.[name];
  const points = o?.points ?? base.points;
  const durationSecs = o?.durationSecs ?? base.durationSecs;
  if (!(points >= 1) || !(durationSecs >= 1) || !Number.isFinite(points) || !Number.isFinite(durationSecs)) {
    throw new RangeError(`quota ${name}: points and durationSecs must be at least 1`);
  }
  return { points: Math.floor(points), durationSecs: Math.floor(durationSecs) };
}

/** How a rate quota is enforced with fixed windows: `points` per `windowSecs`. */
export type WindowPlan = { points: number; windowSecs: number; perSecond: number };

/**
 * Fixed windows (what a Redis counter with a TTL gives) can let through twice the quota around a
 * window boundary, while providers count in sliding windows. So the quota is enforced in shorter
 * windows of `w` seconds holding `p` points, chosen so that even the worst case (every window a
 * sliding window of `durationSecs` touches is full: ceil(D/w) + 1 of them) stays within
 * `margin × points`, and throughput p/w is the highest such plan allows.
 */
export function planWindows(limit: QuotaLimit, margin = DEFAULT_SAFETY_MARGIN): WindowPlan {
  const budget = Math.max(1, Math.floor(limit.points * margin));
  const d = limit.durationSecs;
  let best: WindowPlan = { points: 1, windowSecs: d + 1, perSecond: 1 / (d + 1) };
  for (let w = 1; w <= d; w++) {
    const p = Math.floor(budget / (Math.ceil(d / w) + 1));
    if (p >= 1 && p / w > best.perSecond) {
      best = { points: p, windowSecs: w, perSecond: p / w };
    }
  }
  return best;
}
