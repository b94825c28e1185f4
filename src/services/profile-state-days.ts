import {
  countProfileStates,
  profileStateDaysOf,
  snapshotProfileStates,
} from '../db/queries/profile-state-days.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import type { AppContext } from './context.js';

/**
 * Profiles connected and disconnected per Service Account per day. A Profile keeps only its current
 * state (no history), so the past is recorded: `profiles.snapshot` counts every hour and rewrites
 * today's row — one grouped statement over profiles, whatever their number.
 */

export type ProfileDay = { day: string; connected: number | null; disconnected: number | null };

/** Counts today's Profiles of every Service Account (the hourly job). */
export async function snapshotProfiles(app: AppContext): Promise<number> {
  return snapshotProfileStates(app.db);
}

const DAY_MS = 86_400_000;

/**
 * The last `days` days (UTC) of one Service Account, oldest first; a day without a count is null.
 * Today shows `live` (the counts the page just read) rather than the last hourly count.
 */
export async function profileDays(
  app: AppContext,
  serviceAccountId: string,
  opts: { days: number; live: { connected: number; disconnected: number }; now?: Date },
): Promise<ProfileDay[]> {
  const now = opts.now ?? new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const dayOf = (i: number) => new Date(today - (opts.days - 1 - i) * DAY_MS).toISOString().slice(0, 10);
  const rows = await profileStateDaysOf(app.db, serviceAccountId, dayOf(0));
  const byDay = new Map(rows.map((r) => [r.day, r]));
  return Array.from({ length: opts.days }, (_, i) => {
    const day = dayOf(i);
    if (i === opts.days - 1) {
      return { day, ...opts.live };
    }
    const row = byDay.get(day);
    return { day, connected: row?.connected ?? null, disconnected: row?.disconnected ?? null };
  });
}

export type ServiceAccountHistory = {
  serviceAccount: ServiceAccount;
  connected: number;
  disconnected: number;
  days: ProfileDay[];
};

/** A Service Account with its Profile counts now and over the last `days` days (undefined: unknown id). */
export async function serviceAccountHistory(
  app: AppContext,
  serviceAccountId: string,
  days = 30,
): Promise<ServiceAccountHistory | undefined> {
  const serviceAccount = await findServiceAccount(app.db, serviceAccountId);
  if (!serviceAccount) {
    return undefined;
  }
  const live = await countProfileStates(app.db, serviceAccountId);
  return { serviceAccount, ...live, days: await profileDays(app, serviceAccountId, { days, live }) };
}
