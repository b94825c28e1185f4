import type { calendar_v3 } from 'googleapis/build/src/apis/calendar/v3.js';
import { storableTextOrNull } from '../../lib/text.js';
import {
  type BusyPeriod,
  type CalendarDataProvider,
  type CalendarEvent,
  type CalendarFreeBusy,
  type CalendarRef,
  type EventsPageOptions,
  isProviderError,
  ProviderError,
  type TimeWindow,
} from '../types.js';

/** freeBusy.query: calendars per request (Google's ceiling). */
export const GOOGLE_FREEBUSY_BATCH = 50;
/** freeBusy.query: the longest window asked in one request; longer ones are split. */
const FREEBUSY_WINDOW_MS = 60 * 86_400_000;
/** events.list: events per page (Google's default 250, ceiling 2,500). */
const EVENTS_PAGE = 250;

type Auth = NonNullable<calendar_v3.Params$Resource$Freebusy$Query['auth']>;
type CallOptions = { signal: AbortSignal; retry: false };

/** The adapter's way of making one Calendar call as `subject` (limiter, timeout, error mapping). */
export type GoogleCalendarCaller = <T>(
  spec: { op: string; subject: string },
  signal: AbortSignal | undefined,
  fn: (auth: Auth, o: CallOptions) => Promise<T>,
) => Promise<T>;

/** Refines a failure impersonating `email` (suspended? no mailbox?) as the directory says. */
export type SubjectErrorRefiner = (
  err: unknown,
  email: string,
  signal: AbortSignal | undefined,
) => Promise<unknown>;

function windows(w: TimeWindow): TimeWindow[] {
  const out: TimeWindow[] = [];
  for (let s = w.start.getTime(); s < w.end.getTime(); s += FREEBUSY_WINDOW_MS) {
    out.push({ start: new Date(s), end: new Date(Math.min(w.end.getTime(), s + FREEBUSY_WINDOW_MS)) });
  }
  return out;
}

function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let k = 0; k < list.length; k += size) {
    out.push(list.slice(k, k + size));
  }
  return out;
}

function instant(raw: string | null | undefined): Date | undefined {
  if (typeof raw !== 'string') {
    return undefined;
  }
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function when(t: calendar_v3.Schema$EventDateTime | undefined): CalendarEvent['start'] | undefined {
  if (t?.date && /^\d{4}-\d\d-\d\d$/.test(t.date)) {
    return { date: t.date };
  }
  const at = instant(t?.dateTime);
  return at ? { at, timeZone: storableTextOrNull(t?.timeZone) } : undefined;
}

const RESPONSES: Record<string, 'accepted' | 'tentative' | 'declined' | 'needs_action'> = {
  accepted: 'accepted',
  tentative: 'tentative',
  declined: 'declined',
  needsAction: 'needs_action',
};

/** A Google event in our shape; undefined for one without an id or times (nothing to show). */
export function fromGoogleEvent(e: calendar_v3.Schema$Event): CalendarEvent | undefined {
  const id = storableTextOrNull(e.id);
  const start = when(e.start);
  const end = when(e.end);
  if (!id || !start || !end) {
    return undefined;
  }
  const status =
    e.status === 'cancelled' ? 'cancelled' : e.status === 'tentative' ? 'tentative' : 'confirmed';
  return {
    providerEventId: id,
    seriesId: storableTextOrNull(e.recurringEventId),
    summary: storableTextOrNull(e.summary),
    description: storableTextOrNull(e.description),
    location: storableTextOrNull(e.location),
    start,
    end,
    status,
    transparency: e.transparency === 'transparent' ? 'transparent' : 'opaque',
    private: e.visibility === 'private' || e.visibility === 'confidential',
    organizer: e.organizer
      ? { email: storableTextOrNull(e.organizer.email), name: storableTextOrNull(e.organizer.displayName) }
      : null,
    attendees: (e.attendees ?? []).map((a) => ({
      email: storableTextOrNull(a.email),
      name: storableTextOrNull(a.displayName),
      status: RESPONSES[a.responseStatus ?? ''] ?? 'needs_action',
    })),
    created: instant(e.created) ?? null,
    updated: instant(e.updated) ?? null,
  };
}

function busyOf(periods: calendar_v3.Schema$TimePeriod[] | undefined): BusyPeriod[] {
  const out: BusyPeriod[] = [];
  for (const p of periods ?? []) {
    const start = instant(p.start);
    const end = instant(p.end);
    if (start && end && end > start) {
      out.push({ start, end, status: 'busy' });
    }
  }
  return out;
}

/**
 * Google Calendar's read side. Free/busy through `freebusy.query` as the admin, 50 calendars a call
 * (rooms and colleagues are visible to the domain); a user whose sharing hides free/busy from the
 * admin answers `notFound` for that calendar alone, and only those users are impersonated, each for
 * its own calendars. Events through `events.list` with `singleEvents=true` (series expanded), as the
 * mailbox itself (a room as the admin).
 */
export class GoogleCalendarData implements CalendarDataProvider {
  constructor(
    private readonly calendar: calendar_v3.Calendar,
    private readonly adminEmail: string,
    private readonly call: GoogleCalendarCaller,
    private readonly refine: SubjectErrorRefiner,
  ) {}

  async freeBusy(
    calendars: CalendarRef[],
    window: TimeWindow,
    signal?: AbortSignal,
  ): Promise<Map<string, CalendarFreeBusy>> {
    const out = new Map<string, CalendarFreeBusy>();
    const retry: CalendarRef[] = [];
    // Batches in parallel: each is one call on the admin's quota, which the limiter meters.
    const batches = chunks(calendars, GOOGLE_FREEBUSY_BATCH);
    const answers = await Promise.all(batches.map((b) => this.query(this.adminEmail, b, window, signal)));
    for (const [k, batch] of batches.entries()) {
      const found = answers[k] as Map<string, CalendarFreeBusy>;
      for (const ref of batch) {
        const r = found.get(ref.providerCalendarId);
        if (
          r?.ok === false &&
          ref.mailbox.kind !== 'room' &&
          ref.mailbox.email.toLowerCase() !== this.adminEmail
        ) {
          retry.push(ref);
        } else if (r) {
          out.set(ref.providerCalendarId, r);
        }
      }
    }
    const bySubject = new Map<string, CalendarRef[]>();
    for (const ref of retry) {
      const key = ref.mailbox.email.toLowerCase();
      bySubject.set(key, [...(bySubject.get(key) ?? []), ref]);
    }
    for (const [subject, refs] of bySubject) {
      try {
        const found = await this.query(subject, refs, window, signal);
        for (const [id, r] of found) {
          out.set(id, r);
        }
      } catch (err) {
        const refined = await this.refine(err, subject, signal);
        if (!isProviderError(refined) || refined.retryable) {
          throw refined;
        }
        for (const ref of refs) {
          out.set(ref.providerCalendarId, { ok: false, error: refined });
        }
      }
    }
    return out;
  }

  async listEventsPage(
    calendar: CalendarRef,
    window: TimeWindow,
    opts: EventsPageOptions,
  ): Promise<{ items: CalendarEvent[]; nextCursor: string | null }> {
    const subject = calendar.mailbox.kind === 'room' ? this.adminEmail : calendar.mailbox.email;
    try {
      const res = await this.call({ op: 'events.list', subject }, opts.signal, (auth, o) =>
        this.calendar.events.list(
          {
            auth,
            calendarId: calendar.providerCalendarId,
            timeMin: window.start.toISOString(),
            timeMax: window.end.toISOString(),
            singleEvents: true,
            orderBy: 'startTime',
            maxResults: Math.min(2500, Math.max(1, opts.pageSize ?? EVENTS_PAGE)),
            showDeleted: opts.includeDeleted,
            ...(opts.updatedSince ? { updatedMin: opts.updatedSince.toISOString() } : {}),
            ...(opts.cursor ? { pageToken: opts.cursor } : {}),
          },
          o,
        ),
      );
      const items = (res.data.items ?? []).map(fromGoogleEvent).filter((e) => e !== undefined);
      return { items, nextCursor: res.data.nextPageToken || null };
    } catch (err) {
      throw subject === this.adminEmail ? err : await this.refine(err, subject, opts.signal);
    }
  }

  /** One subject's free/busy of `refs`, window by window; per-calendar errors as failures. */
  private async query(
    subject: string,
    refs: CalendarRef[],
    window: TimeWindow,
    signal: AbortSignal | undefined,
  ): Promise<Map<string, CalendarFreeBusy>> {
    const out = new Map<string, CalendarFreeBusy>();
    for (const w of windows(window)) {
      const res = await this.call({ op: 'freebusy.query', subject }, signal, (auth, o) =>
        this.calendar.freebusy.query(
          {
            auth,
            requestBody: {
              timeMin: w.start.toISOString(),
              timeMax: w.end.toISOString(),
              items: refs.map((r) => ({ id: r.providerCalendarId })),
            },
          },
          o,
        ),
      );
      const answered = res.data.calendars ?? {};
      for (const ref of refs) {
        const entry = answered[ref.providerCalendarId];
        const prior = out.get(ref.providerCalendarId);
        if (prior?.ok === false) {
          continue;
        }
        const reason = entry?.errors?.[0]?.reason;
        if (!entry || reason) {
          out.set(ref.providerCalendarId, {
            ok: false,
            error: new ProviderError(
              'google',
              reason === 'notFound' || !entry ? 'mailbox_not_enabled' : 'insufficient_permissions',
              `Google gave no free/busy for this calendar (${storableTextOrNull(reason) ?? 'not answered'})`,
              { providerCode: reason ?? 'missing' },
            ),
          });
          continue;
        }
        out.set(ref.providerCalendarId, {
          ok: true,
          busy: [...(prior?.ok ? prior.busy : []), ...busyOf(entry.busy)],
        });
      }
    }
    return out;
  }
}
