import type { CalendarOwner } from '../db/queries/calendar-owners.js';
import { findCalendarOwners } from '../db/queries/calendar-owners.js';
import type { Calendar } from '../db/schema/calendars.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import {
  type CalendarDataProvider,
  type CalendarEvent,
  type CalendarFreeBusy,
  type CalendarRef,
  isProviderError,
  ProviderError,
  type TimeWindow,
} from '../providers/types.js';
import {
  disconnectAfterRefusal,
  type FailureOptions,
  failedDataCall,
  unavailable,
} from './calendar-data-failures.js';
import type { AppContext } from './context.js';
import { scopeWithin } from './scopes.js';

/**
 * Reading calendars through Delegate Accounts (Cronofy's free/busy, events and availability): the
 * Account's Calendars from the database, their data live from the provider through the Service
 * Account's adapter (batched, on the shared quotas), failures handled as scheduled checks handle them.
 */

export type { CalendarEvent } from '../providers/types.js';

/** Free/busy or events scope: what `GET /v1/free_busy` and availability need. */
export function canReadFreeBusy(scope: string): boolean {
  return scopeWithin('read_free_busy', scope) || scopeWithin('read_events', scope);
}

export function canReadEvents(scope: string): boolean {
  return scopeWithin('read_events', scope);
}

/** An active Account of the Application with its Profile, Service Account and Calendars. */
export async function loadCalendarOwner(
  app: AppContext,
  applicationId: string,
  accountId: string,
): Promise<CalendarOwner> {
  const [owner] = await findCalendarOwners(app.db, [accountId]);
  if (owner?.account.status !== 'active' || owner.account.applicationId !== applicationId) {
    throw new NotFoundError('Account', accountId);
  }
  return owner;
}

/** The Calendars asked for (`calendar_ids`), or every Calendar of the Account; 422 for one not its own. */
export function selectCalendars(owner: CalendarOwner, calendarIds: string[] | undefined): Calendar[] {
  if (!calendarIds || calendarIds.length === 0) {
    return owner.calendars;
  }
  const byId = new Map(owner.calendars.map((c) => [c.id, c]));
  const unknown = calendarIds.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    throw new ValidationError('Unknown calendar_ids', {
      calendar_ids: [
        { key: 'errors.unknown', description: `not a Calendar of this Account: ${unknown.join(', ')}` },
      ],
    });
  }
  return [...new Set(calendarIds)].map((id) => byId.get(id) as Calendar);
}

export function calendarRef(owner: CalendarOwner, c: Calendar): CalendarRef {
  return {
    mailbox: {
      kind: owner.account.kind,
      email: owner.account.email,
      providerId: owner.profile.providerProfileId,
    },
    providerCalendarId: c.providerCalendarId,
    primary: c.primary,
  };
}

export function dataProvider(app: AppContext, sa: ServiceAccount): CalendarDataProvider {
  if (sa.status !== 'active') {
    throw new ForbiddenError('The Service Account of this Account is not active');
  }
  const provider = app.providers.forServiceAccount(sa);
  if (!provider.calendarData) {
    throw new ProviderError(
      provider.provider,
      'provider_unavailable',
      'This provider serves no calendar data',
    );
  }
  return provider.calendarData;
}

export type BusyEntry = { calendarId: string; start: Date; end: Date; status: 'busy' | 'tentative' };

/** One Account's busy time over the window, by Calendar, sorted by start. */
export async function accountFreeBusy(
  app: AppContext,
  owner: CalendarOwner,
  selected: Calendar[],
  window: TimeWindow,
  opts: FailureOptions,
): Promise<BusyEntry[]> {
  if (selected.length === 0) {
    return [];
  }
  let found: Map<string, CalendarFreeBusy>;
  try {
    found = await dataProvider(app, owner.serviceAccount).freeBusy(
      selected.map((c) => calendarRef(owner, c)),
      window,
      opts.signal,
    );
  } catch (err) {
    return failedDataCall(app, owner, err, opts);
  }
  const out: BusyEntry[] = [];
  for (const c of selected) {
    const r = found.get(c.providerCalendarId);
    if (!r) {
      continue;
    }
    if (!r.ok) {
      // The mailbox's own calendar refused: the mailbox is unreachable, as a check would find.
      if (c.primary || selected.length === 1) {
        return failedDataCall(app, owner, r.error, opts);
      }
      opts.logger.warn({ calendarId: c.id, reason: r.error.reason }, 'calendar free/busy refused; left out');
      continue;
    }
    for (const b of r.busy) {
      // Clipped to the window (Graph answers whole events, Google clips).
      const start = new Date(Math.max(b.start.getTime(), window.start.getTime()));
      const end = new Date(Math.min(b.end.getTime(), window.end.getTime()));
      if (end > start) {
        out.push({ calendarId: c.id, start, end, status: b.status });
      }
    }
  }
  return out.sort(
    (a, b) => a.start.getTime() - b.start.getTime() || a.calendarId.localeCompare(b.calendarId),
  );
}

/** Where an events listing stands: the Calendar (index into the selection) and its provider cursor. */
export type EventsPosition = { calendar: number; cursor: string | null };

export type EventsQuery = {
  window: TimeWindow;
  includeDeleted: boolean;
  updatedSince: Date | undefined;
};

/** Events wanted per page (a provider page is kept whole, so a page may hold somewhat more). */
export const EVENTS_PER_PAGE = 250;
/** Provider pages read at most per answer page (bounds a request's latency). */
const MAX_PROVIDER_PAGES = 8;

/** One page of an Account's events across the selected Calendars, Calendar by Calendar. */
export async function accountEventsPage(
  app: AppContext,
  owner: CalendarOwner,
  selected: Calendar[],
  q: EventsQuery,
  from: EventsPosition,
  opts: FailureOptions,
): Promise<{ events: { calendarId: string; event: CalendarEvent }[]; next: EventsPosition | null }> {
  const events: { calendarId: string; event: CalendarEvent }[] = [];
  let at: EventsPosition = from;
  const provider = selected.length > 0 ? dataProvider(app, owner.serviceAccount) : undefined;
  for (let pages = 0; provider && at.calendar < selected.length && pages < MAX_PROVIDER_PAGES; pages++) {
    if (events.length >= EVENTS_PER_PAGE) {
      break;
    }
    const c = selected[at.calendar] as Calendar;
    let page: Awaited<ReturnType<CalendarDataProvider['listEventsPage']>>;
    try {
      page = await provider.listEventsPage(calendarRef(owner, c), q.window, {
        cursor: at.cursor,
        includeDeleted: q.includeDeleted,
        updatedSince: q.updatedSince,
        signal: opts.signal,
      });
    } catch (err) {
      if (c.primary || !isProviderError(err) || err.retryable) {
        return failedDataCall(app, owner, err, opts);
      }
      opts.logger.warn({ calendarId: c.id, reason: err.reason }, 'calendar events refused; left out');
      page = { items: [], nextCursor: null };
    }
    for (const event of page.items) {
      events.push({ calendarId: c.id, event });
    }
    at = page.nextCursor
      ? { calendar: at.calendar, cursor: page.nextCursor }
      : { calendar: at.calendar + 1, cursor: null };
  }
  return { events, next: at.calendar < selected.length ? at : null };
}

/** A participant's busy time for availability: by Account, `undefined` when it could not be read. */
export type ParticipantBusy = Map<string, { start: number; end: number }[] | undefined>;

/**
 * The busy time of many Accounts (availability), batched per Service Account so that 100 rooms of
 * one Google domain cost ⌈100 ÷ 50⌉ calls. A Profile refused for good is disconnected and its
 * Account counted as never free; a transient failure of a batch fails the query (503).
 */
export async function participantsBusy(
  app: AppContext,
  owners: { owner: CalendarOwner; calendars: Calendar[] }[],
  window: TimeWindow,
  opts: FailureOptions,
): Promise<ParticipantBusy> {
  const out: ParticipantBusy = new Map();
  const bySa = new Map<string, { owner: CalendarOwner; calendars: Calendar[] }[]>();
  for (const o of owners) {
    const list = bySa.get(o.owner.serviceAccount.id) ?? [];
    list.push(o);
    bySa.set(o.owner.serviceAccount.id, list);
  }
  await Promise.all(
    [...bySa.values()].map(async (group) => {
      const sa = (group[0] as { owner: CalendarOwner }).owner.serviceAccount;
      const refs = group.flatMap((o) => o.calendars.map((c) => calendarRef(o.owner, c)));
      let found: Map<string, CalendarFreeBusy>;
      try {
        found = await dataProvider(app, sa).freeBusy(refs, window, opts.signal);
      } catch (err) {
        if (!isProviderError(err) || err.retryable) {
          throw isProviderError(err) ? unavailable(err) : err;
        }
        throw err;
      }
      for (const { owner, calendars } of group) {
        const busy: { start: number; end: number }[] = [];
        let refused = false;
        for (const c of calendars) {
          const r = found.get(c.providerCalendarId);
          if (r && !r.ok && c.primary) {
            refused = true;
            if (r.error instanceof ProviderError && !r.error.retryable) {
              await disconnectAfterRefusal(app, owner.profile.id, r.error, opts);
            }
          }
          for (const b of r?.ok ? r.busy : []) {
            busy.push({ start: b.start.getTime(), end: b.end.getTime() });
          }
        }
        out.set(owner.account.id, refused ? undefined : busy);
      }
    }),
  );
  return out;
}
