/**
 * When Profiles and Service Accounts are checked next. Pure functions (unit-tested in
 * backoff.test.ts); `random` is injectable for the tests.
 */

/** Longest wait between two checks of a disconnected Profile or a broken Service Account. */
export const MAX_BACKOFF_SECS = 86_400;

/**
 * How long a sweep's claim on a Profile (or broken Service Account) lasts: its check job must run
 * within it, or it is due again and claimed anew, so a lost job delays a check, never stops it.
 * Default 15 min.
 */
export const CHECK_LEASE_MS = 15 * 60_000;

/** The next regular check: the interval ±10%, so Profiles checked together drift apart. */
export function nextRegularCheckAt(
  now: Date,
  intervalSecs: number,
  random: () => number = Math.random,
): Date {
  return new Date(now.getTime() + Math.round(intervalSecs * 1000 * (0.9 + 0.2 * random())));
}

/**
 * Wait before the next attempt after `failures` consecutive failures (≥ 1): `baseSecs · 2^(failures−1)`,
 * capped at a day, minus up to 20% jitter (so never more than the cap).
 */
export function backoffMs(failures: number, baseSecs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 32);
  const capped = Math.min(baseSecs * 2 ** exponent, MAX_BACKOFF_SECS) * 1000;
  return Math.round(capped * (1 - 0.2 * random()));
}
