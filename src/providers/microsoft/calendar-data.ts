import type { Client } from '@microsoft/microsoft-graph-client';
import { storableTextOrNull } from '../../lib/text.js';
import { isTimeZone, zonedToUtc } from '../../lib/zoned-time.js';
import {
  type BusyPeriod,
  type CalendarDataProvider,
  type CalendarEvent,
  type CalendarFreeBusy,
  type CalendarRef,
  type EventsPageOptions,
  ProviderError,
  type ProviderReason,
  type TimeWindow,
} from '../types.js';

/** getSchedule: mailboxes per request (Graph's documented ceiling). */
export const GRAPH_SCHEDULE_BATCH = 20;
/** getSchedule accepts at most 62 days; longer windows are split. */
const SCHEDULE_WINDOW_MS = 60 * 86_400_000;
/** calendarView: events per page. */
const VIEW_PAGE = 100;

type Request = { option(k: string, v: unknown): { get(): Promise<unknown> } };

/** The adapter's way of making one Outlook call for `mailbox` (limiter incl. 4 concurrent, errors). */
export type GraphCaller = <T>(
  spec: { op: string; mailbox: string },
  signal: AbortSignal | undefined,
  request: (g: Client) => Request,
) => Promise<T>;

type DateTimeTimeZone = { dateTime?: string; timeZone?: string };
type ScheduleItem = { status?: string; start?: DateTimeTimeZone; end?: DateTimeTimeZone };
type ScheduleInformation = {
  scheduleId?: string;
  scheduleItems?: ScheduleItem[];
  error?: { message?: string; responseCode?: string };
};
type GraphPerson = { emailAddress?: { name?: string; address?: string } };
type GraphEvent = {
  id?: string;
  seriesMasterId?: string | null;
  subject?: string | null;
  bodyPreview?: string | null;
  location?: { displayName?: string | null } | null;
  isAllDay?: boolean;
  isCancelled?: boolean;
  showAs?: string;
  sensitivity?: string;
  start?: DateTimeTimeZone;
  end?: DateTimeTimeZone;
  originalStartTimeZone?: string | null;
  organizer?: GraphPerson | null;
  attendees?: (GraphPerson & { status?: { response?: string } })[];
  createdDateTime?: string;
  lastModifiedDateTime?: string;
};

/** Graph's `dateTimeTimeZone` as an instant: UTC (what Graph answers by default) or an IANA zone. */
export function graphInstant(t: DateTimeTimeZone | undefined): Date | undefined {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?$/.exec(t?.dateTime ?? '');
  if (!m) {
    return undefined;
  }
  const minutes = Number(m[2]) * 60 + Number(m[3]) + Number(m[4] ?? 0) / 60;
  const tz = t?.timeZone ?? 'UTC';
  if (tz === 'UTC' || tz === 'Etc/UTC') {
    const d = new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4] ?? '00'}Z`);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return isTimeZone(tz) ? zonedToUtc(m[1] as string, minutes, tz) : undefined;
}

const RESPONSES: Record<string, 'accepted' | 'tentative' | 'declined' | 'needs_action'> = {
  accepted: 'accepted',
  organizer: 'accepted',
  tentativelyAccepted: 'tentative',
  declined: 'declined',
};

function person(p: GraphPerson | null | undefined) {
  return {
    email: storableTextOrNull(p?.emailAddress?.address),
    name: storableTextOrNull(p?.emailAddress?.name),
  };
}

/** A Graph event in our shape; undefined for one without an id or readable times. */
export function fromGraphEvent(e: GraphEvent): CalendarEvent | undefined {
  const id = storableTextOrNull(e.id);
  const zone =
    e.originalStartTimeZone && isTimeZone(e.originalStartTimeZone) ? e.originalStartTimeZone : null;
  let start: CalendarEvent['start'] | undefined;
  let end: CalendarEvent['end'] | undefined;
  if (e.isAllDay) {
    const s = /^\d{4}-\d\d-\d\d/.exec(e.start?.dateTime ?? '')?.[0];
    const f = /^\d{4}-\d\d-\d\d/.exec(e.end?.dateTime ?? '')?.[0];
    start = s ? { date: s } : undefined;
    end = f ? { date: f } : undefined;
  } else {
    const s = graphInstant(e.start);
    const f = graphInstant(e.end);
    start = s ? { at: s, timeZone: zone } : undefined;
    end = f ? { at: f, timeZone: zone } : undefined;
  }
  if (!id || !start || !end) {
    return undefined;
  }
  const date = (raw: string | undefined) => {
    const d = raw ? new Date(raw) : undefined;
    return d && !Number.isNaN(d.getTime()) ? d : null;
  };
  return {
    providerEventId: id,
    seriesId: storableTextOrNull(e.seriesMasterId),
    summary: storableTextOrNull(e.subject),
    description: storableTextOrNull(e.bodyPreview) || null,
    location: storableTextOrNull(e.location?.displayName) || null,
    start,
    end,
    status: e.isCancelled ? 'cancelled' : e.showAs === 'tentative' ? 'tentative' : 'confirmed',
    transparency: e.showAs === 'free' || e.showAs === 'workingElsewhere' ? 'transparent' : 'opaque',
    private: e.sensitivity === 'private' || e.sensitivity === 'confidential',
    organizer: e.organizer ? person(e.organizer) : null,
    attendees: (e.attendees ?? []).map((a) => ({
      ...person(a),
      status: RESPONSES[a.status?.response ?? ''] ?? 'needs_action',
    })),
    created: date(e.createdDateTime),
    updated: date(e.lastModifiedDateTime),
  };
}

function scheduleError(code: string | undefined, message: string | undefined): ProviderError {
  const reason: ProviderReason =
    code === 'ErrorAccessDenied'
      ? 'insufficient_permissions'
      : code
        ? 'user_not_found'
        : 'mailbox_not_enabled';
  return new ProviderError(
    'microsoft',
    reason,
    `Graph gave no schedule for this mailbox: ${storableTextOrNull(message) ?? code ?? 'not answered'}`,
    { providerCode: code ?? 'missing' },
  );
}

function busyOf(items: ScheduleItem[] | undefined): BusyPeriod[] {
  const out: BusyPeriod[] = [];
  for (const item of items ?? []) {
    const status =
      item.status === 'tentative'
        ? 'tentative'
        : item.status === 'busy' || item.status === 'oof'
          ? 'busy'
          : undefined;
    const start = graphInstant(item.start);
    const end = graphInstant(item.end);
    if (status && start && end && end > start) {
      out.push({ start, end, status });
    }
  }
  return out;
}

/**
 * Microsoft 365's read side, app-only: free/busy through `getSchedule`, 20 mailboxes a call (asked
 * of the first mailbox of each batch), and events through `calendarView` (occurrences expanded)
 * following `@odata.nextLink`. Each call counts against its mailbox's quota and 4-concurrent limit.
 */
export class GraphCalendarData implements CalendarDataProvider {
  constructor(
    private readonly call: GraphCaller,
    private readonly link: (cursor: string) => string,
    private readonly cursor: (nextLink: string | undefined) => string | null,
  ) {}

  async freeBusy(
    calendars: CalendarRef[],
    window: TimeWindow,
    signal?: AbortSignal,
  ): Promise<Map<string, CalendarFreeBusy>> {
    const out = new Map<string, CalendarFreeBusy>();
    // getSchedule answers for a mailbox (its default calendar): another calendar of the same mailbox
    // adds no free/busy of its own, and the mailbox is asked once.
    const primary: CalendarRef[] = [];
    for (const c of calendars) {
      if (c.primary) {
        primary.push(c);
      } else {
        out.set(c.providerCalendarId, { ok: true, busy: [] });
      }
    }
    const batches: CalendarRef[][] = [];
    for (let k = 0; k < primary.length; k += GRAPH_SCHEDULE_BATCH) {
      batches.push(primary.slice(k, k + GRAPH_SCHEDULE_BATCH));
    }
    // Batches in parallel: each is asked of a different mailbox, so each has its own 4-concurrent slot.
    await Promise.all(batches.map((batch) => this.scheduleBatch(batch, window, signal, out)));
    return out;
  }

  private async scheduleBatch(
    batch: CalendarRef[],
    window: TimeWindow,
    signal: AbortSignal | undefined,
    out: Map<string, CalendarFreeBusy>,
  ): Promise<void> {
    const asker = batch[0]?.mailbox.email ?? '';
    for (let s = window.start.getTime(); s < window.end.getTime(); s += SCHEDULE_WINDOW_MS) {
      const e = Math.min(window.end.getTime(), s + SCHEDULE_WINDOW_MS);
      const body = {
        schedules: batch.map((c) => c.mailbox.email),
        startTime: { dateTime: new Date(s).toISOString().slice(0, 19), timeZone: 'UTC' },
        endTime: { dateTime: new Date(e).toISOString().slice(0, 19), timeZone: 'UTC' },
        availabilityViewInterval: 60,
      };
      const res = await this.call<{ value?: ScheduleInformation[] }>(
        { op: 'calendar.getSchedule', mailbox: asker },
        signal,
        (g) => ({
          option: (name, value) => ({
            get: () =>
              g
                .api(`/users/${encodeURIComponent(asker)}/calendar/getSchedule`)
                .option(name, value)
                .post(body),
          }),
        }),
      );
      const byId = new Map<string, ScheduleInformation>();
      for (const info of res.value ?? []) {
        if (typeof info.scheduleId === 'string') {
          byId.set(info.scheduleId.toLowerCase(), info);
        }
      }
      for (const ref of batch) {
        const prior = out.get(ref.providerCalendarId);
        if (prior?.ok === false) {
          continue;
        }
        const info = byId.get(ref.mailbox.email.toLowerCase());
        if (!info || info.error) {
          out.set(ref.providerCalendarId, {
            ok: false,
            error: scheduleError(info?.error?.responseCode, info?.error?.message),
          });
          continue;
        }
        out.set(ref.providerCalendarId, {
          ok: true,
          busy: [...(prior?.ok ? prior.busy : []), ...busyOf(info.scheduleItems)],
        });
      }
    }
  }

  async listEventsPage(
    calendar: CalendarRef,
    window: TimeWindow,
    opts: EventsPageOptions,
  ): Promise<{ items: CalendarEvent[]; nextCursor: string | null }> {
    const m = calendar.mailbox;
    const target = encodeURIComponent(m.kind === 'room' ? m.email : m.providerId || m.email);
    const path = calendar.primary
      ? `/users/${target}/calendarView`
      : `/users/${target}/calendars/${encodeURIComponent(calendar.providerCalendarId)}/calendarView`;
    const res = await this.call<{ value?: GraphEvent[]; '@odata.nextLink'?: string }>(
      { op: 'calendarView.list', mailbox: m.email },
      opts.signal,
      (g) =>
        opts.cursor
          ? g.api(this.link(opts.cursor))
          : g
              .api(path)
              .query({ startDateTime: window.start.toISOString(), endDateTime: window.end.toISOString() })
              .top(Math.min(1000, Math.max(1, opts.pageSize ?? VIEW_PAGE))),
    );
    const items = (res.value ?? [])
      .map(fromGraphEvent)
      .filter((e) => e !== undefined)
      .filter((e) => opts.includeDeleted || e.status !== 'cancelled')
      .filter((e) => !opts.updatedSince || (e.updated !== null && e.updated >= opts.updatedSince));
    return { items, nextCursor: this.cursor(res['@odata.nextLink']) };
  }
}
