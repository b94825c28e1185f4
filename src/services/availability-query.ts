import { findCalendarOwners } from '../db/queries/calendar-owners.js';
import { ForbiddenError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  type AvailabilityQuery,
  type AvailableTime,
  computeAvailability,
  type Interval,
} from './availability.js';
import { canReadFreeBusy, participantsBusy, selectCalendars } from './calendar-data.js';
import type { AppContext } from './context.js';

export type AvailabilityRequest = Omit<AvailabilityQuery, 'groups'> & {
  groups: {
    required: 'all' | number;
    members: { sub: string; calendarIds?: string[] | undefined; periods?: Interval[] | undefined }[];
  }[];
};

/**
 * Availability over Accounts of one Application: each member's busy time read live (one batched
 * free/busy read per Service Account for the whole window, buffers included), then the pure
 * algorithm (availability.ts). A member whose Profile the provider refused for good is never free.
 */
export async function queryAvailability(
  app: AppContext,
  applicationId: string,
  q: AvailabilityRequest,
  opts: { logger: Logger; signal?: AbortSignal },
): Promise<{ periods: AvailableTime[]; slots: AvailableTime[] }> {
  const subs = [...new Set(q.groups.flatMap((g) => g.members.map((m) => m.sub)))];
  const owners = new Map(
    (await findCalendarOwners(app.db, subs))
      .filter((o) => o.account.applicationId === applicationId && o.account.status === 'active')
      .map((o) => [o.account.id, o]),
  );
  const unknown = subs.filter((s) => !owners.has(s));
  if (unknown.length > 0) {
    throw new ValidationError('Unknown participants', {
      participants: [
        { key: 'errors.unknown', description: `not an Account of this Application: ${unknown.join(', ')}` },
      ],
    });
  }
  const noScope = subs.filter((s) => !canReadFreeBusy(owners.get(s)?.account.scope ?? ''));
  if (noScope.length > 0) {
    throw new ForbiddenError(`These Accounts have no free/busy or events scope: ${noScope.join(', ')}`);
  }
  // One read per Account, over every Calendar any group asks of it.
  const wanted = new Map<string, Set<string>>();
  for (const g of q.groups) {
    for (const m of g.members) {
      const owner = owners.get(m.sub);
      if (owner) {
        const set = wanted.get(m.sub) ?? new Set<string>();
        for (const c of selectCalendars(owner, m.calendarIds)) {
          set.add(c.id);
        }
        wanted.set(m.sub, set);
      }
    }
  }
  const start = Math.min(...q.periods.map((p) => p.start)) - (q.bufferAfterMs ?? 0);
  const end = Math.max(...q.periods.map((p) => p.end)) + (q.bufferBeforeMs ?? 0);
  const busy = await participantsBusy(
    app,
    [...wanted].map(([sub, ids]) => {
      const owner = owners.get(sub);
      if (!owner) {
        throw new Error('unreachable: participants were resolved above');
      }
      return { owner, calendars: owner.calendars.filter((c) => ids.has(c.id)) };
    }),
    { start: new Date(start), end: new Date(end) },
    { signal: opts.signal ?? new AbortController().signal, logger: opts.logger },
  );
  const never = [{ start, end }];
  return computeAvailability({
    ...q,
    groups: q.groups.map((g) => ({
      required: g.required,
      members: g.members.map((m) => ({ sub: m.sub, busy: busy.get(m.sub) ?? never, periods: m.periods })),
    })),
  });
}
