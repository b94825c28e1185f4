import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import { formatInZone, formatUtc, isTimeZone, localDate, zonedToUtc } from '../../lib/zoned-time.js';
import type { CalendarEvent } from '../../services/calendar-data.js';

/**
 * Query parameters of the calendar read APIs as Cronofy takes them: `tzid` (IANA, required), `from`
 * and `to` (dates in `tzid`, or times), `calendar_ids[]` (the SDK's `qs` brackets; plain repeated
 * `calendar_ids` too). Cronofy's window: from no earlier than 42 days ago, to no later than 201 days
 * ahead, to after from; defaults from 16 days ago to 201 days ahead.
 */

const DAY_MS = 86_400_000;
export const PAST_LIMIT_DAYS = 42;
export const FUTURE_LIMIT_DAYS = 201;
const DEFAULT_PAST_DAYS = 16;

const calendarIds = z.union([z.string().max(64), z.array(z.string().max(64)).max(100)]);

export const readQuerySchema = z.looseObject({
  tzid: z.string().max(64).optional().describe('IANA time zone of `from`/`to` (required)'),
  from: z.string().max(40).optional().describe('YYYY-MM-DD in tzid (or an ISO 8601 time)'),
  to: z.string().max(40).optional().describe('YYYY-MM-DD in tzid, exclusive (or an ISO 8601 time)'),
  'calendar_ids[]': calendarIds.optional(),
  calendar_ids: calendarIds.optional(),
});

export type ReadQuery = z.infer<typeof readQuerySchema>;
export type ReadWindow = { start: Date; end: Date; tzid: string };

type Problems = Record<string, { key: string; description: string }[]>;

function problem(fields: Problems, field: string, key: string, description: string): void {
  fields[field] = [...(fields[field] ?? []), { key, description }];
}

const DATE = /^\d{4}-\d\d-\d\d$/;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/i;

/** An ISO 8601 time with an offset (`Z` or `±hh:mm`); undefined for anything else. */
export function parseTime(raw: string): Date | undefined {
  if (!TIME.test(raw)) {
    return undefined;
  }
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function parseBound(raw: string, tzid: string): Date | undefined {
  if (DATE.test(raw)) {
    const d = new Date(`${raw}T00:00:00Z`);
    return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== raw
      ? undefined
      : zonedToUtc(raw, 0, tzid);
  }
  return parseTime(raw);
}

/** The window a read asks for, validated with Cronofy's limits; 422 `errors.{field}` otherwise. */
export function readWindow(q: ReadQuery, now = new Date()): ReadWindow {
  const fields: Problems = {};
  const tzid = q.tzid ?? '';
  if (!q.tzid) {
    problem(fields, 'tzid', 'errors.required', 'tzid is required (an IANA time zone, e.g. Europe/London)');
  } else if (!isTimeZone(tzid)) {
    problem(fields, 'tzid', 'errors.invalid', 'tzid must be an IANA time zone, e.g. Europe/London');
  }
  if (Object.keys(fields).length > 0) {
    throw new ValidationError('Invalid tzid', fields);
  }
  const today = zonedToUtc(localDate(now, tzid), 0, tzid).getTime();
  const earliest = today - PAST_LIMIT_DAYS * DAY_MS;
  const latest = today + (FUTURE_LIMIT_DAYS + 1) * DAY_MS;
  const start =
    q.from === undefined ? new Date(today - DEFAULT_PAST_DAYS * DAY_MS) : parseBound(q.from, tzid);
  const end = q.to === undefined ? new Date(today + FUTURE_LIMIT_DAYS * DAY_MS) : parseBound(q.to, tzid);
  if (!start) {
    problem(fields, 'from', 'errors.invalid', 'from must be a date (YYYY-MM-DD) or an ISO 8601 time');
  } else if (start.getTime() < earliest) {
    problem(fields, 'from', 'errors.too_early', `from must be at most ${PAST_LIMIT_DAYS} days in the past`);
  }
  if (!end) {
    problem(fields, 'to', 'errors.invalid', 'to must be a date (YYYY-MM-DD) or an ISO 8601 time');
  } else if (end.getTime() > latest) {
    problem(fields, 'to', 'errors.too_late', `to must be at most ${FUTURE_LIMIT_DAYS} days in the future`);
  } else if (start && end.getTime() <= start.getTime()) {
    problem(fields, 'to', 'errors.must_be_after_from', 'to must be after from');
  }
  if (!start || !end || Object.keys(fields).length > 0) {
    throw new ValidationError('Invalid window', fields);
  }
  return { start, end, tzid };
}

/** `calendar_ids[]` and `calendar_ids`, merged; undefined when neither is given. */
export function calendarIdsOf(q: ReadQuery): string[] | undefined {
  const list = [q['calendar_ids[]'], q.calendar_ids].flatMap((v) => (v === undefined ? [] : [v].flat()));
  return list.length > 0 ? list : undefined;
}

/** This server's origin as the caller reached it (next_page links are requested verbatim). */
export function requestOrigin(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

type Localized = { time: string; tzid: string };

function when(t: CalendarEvent['start'], tzid: string, localized: boolean): string | Localized {
  if ('date' in t) {
    return localized ? { time: t.date, tzid: tzid } : t.date;
  }
  const zone = t.timeZone ?? tzid;
  return localized ? { time: formatInZone(t.at, zone), tzid: zone } : formatUtc(t.at);
}

/** An event with Cronofy's field names. */
export function renderEvent(
  calendarId: string,
  accountEmail: string,
  e: CalendarEvent,
  tzid: string,
  localized: boolean,
) {
  const me = accountEmail.toLowerCase();
  const own = e.attendees.find((a) => a.email?.toLowerCase() === me);
  const organizer = e.organizer?.email?.toLowerCase() === me;
  return {
    calendar_id: calendarId,
    event_uid: `evt_external_${e.providerEventId}`,
    summary: e.summary ?? '',
    description: e.description ?? '',
    start: when(e.start, tzid, localized),
    end: when(e.end, tzid, localized),
    deleted: e.status === 'cancelled',
    created: e.created ? formatUtc(e.created) : null,
    updated: e.updated ? formatUtc(e.updated) : null,
    ...(e.location ? { location: { description: e.location } } : {}),
    participation_status: own ? own.status : organizer ? 'accepted' : 'unknown',
    attendees: e.attendees.map((a) => ({ email: a.email, display_name: a.name, status: a.status })),
    ...(e.organizer ? { organizer: { email: e.organizer.email, display_name: e.organizer.name } } : {}),
    transparency: e.transparency,
    status: e.status,
    categories: [],
    recurring: e.seriesId !== null,
    event_private: e.private,
    options: { delete: false, update: false, change_participation_status: false },
  };
}
