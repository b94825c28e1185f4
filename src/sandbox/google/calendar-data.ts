import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatInZone, isTimeZone } from '../../lib/zoned-time.js';
import { calendarEvents, eventSeed, mergedBusy, type SandboxEvent, sandboxCalendar } from '../events.js';
import type { DirUser } from '../generate.js';
import { fnv, intParam, param } from '../http.js';
import { mix } from '../prng.js';
import type { GoogleTenant, SandboxState } from '../state.js';
import { generatedResourceName } from './directory.js';
import { GOOGLE_ERRORS, sendGoogleError } from './errors.js';
import { authenticateGoogle, type GoogleAccess, hasScope } from './token.js';

const SCOPE = 'https://www.googleapis.com/auth/';
const READ_SCOPES = [
  `${SCOPE}calendar`,
  `${SCOPE}calendar.readonly`,
  `${SCOPE}calendar.events`,
  `${SCOPE}calendar.events.readonly`,
];
const FREEBUSY_SCOPES = [...READ_SCOPES, `${SCOPE}calendar.freebusy`];
/** freeBusy.query: calendars per request (Google's `calendarExpansionMax` ceiling). */
export const GOOGLE_FREEBUSY_MAX_ITEMS = 50;
/** The longest window the sandbox serves in one request (a bound on generation work). */
const MAX_WINDOW_MS = 400 * 86_400_000;

/** A user whose calendar sharing hides free/busy from the rest of the domain (about one in ten). */
export function hidesFreeBusy(seed: number, user: Pick<DirUser, 'pos'>): boolean {
  return mix(seed, user.pos, 0xfb) % 10 === 0;
}

type Target = { key: string; name: string; own: boolean; room: boolean };

/** What calendar `id` is to the caller: its own, a room, another user's, or nothing it may see. */
function resolve(tenant: GoogleTenant, caller: DirUser | null, rawId: string): Target | undefined {
  const id = rawId.toLowerCase();
  if (caller) {
    if (id === 'primary' || id === caller.email.toLowerCase()) {
      return { key: caller.email.toLowerCase(), name: caller.displayName, own: true, room: false };
    }
    const m = /^c_(.+)_(\d)@group\.calendar\.google\.com$/.exec(id);
    if (m && m[1] === caller.id && Number(m[2]) < caller.secondaryCalendars) {
      return { key: id, name: caller.displayName, own: true, room: false };
    }
  }
  const room = tenant.org.rooms.find(id);
  if (room) {
    return { key: room.email.toLowerCase(), name: generatedResourceName(room), own: false, room: true };
  }
  const user = tenant.org.users.find(id);
  if (user?.mailbox && !user.suspended) {
    return { key: user.email.toLowerCase(), name: user.displayName, own: false, room: false };
  }
  return undefined;
}

/** The impersonated caller after scope and per-user quota; `null` is the service account itself. */
function caller(
  state: SandboxState,
  tenant: GoogleTenant,
  access: GoogleAccess,
  scopes: readonly string[],
  reply: FastifyReply,
): DirUser | null | undefined {
  if (!hasScope(access, scopes)) {
    GOOGLE_ERRORS.insufficientScopes(reply);
    return undefined;
  }
  const wait = state.quotaGuard.calendarCall(access.sub || tenant.key.client_email);
  if (wait !== undefined) {
    GOOGLE_ERRORS.quota(reply, state.quotas.googleQuotaStatus, true, wait);
    return undefined;
  }
  if (!access.sub) {
    return null;
  }
  const user = tenant.org.users.find(access.sub);
  if (!user?.mailbox) {
    GOOGLE_ERRORS.notACalendarUser(reply);
    return undefined;
  }
  return user;
}

function time(raw: unknown): Date | undefined {
  if (typeof raw !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(raw)) {
    return undefined;
  }
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function when(at: Date, allDayDate: string | null, tz: string): Record<string, string> {
  return allDayDate ? { date: allDayDate } : { dateTime: formatInZone(at, tz), timeZone: tz };
}

function renderEvent(e: SandboxEvent, calendarKey: string, tz: string): Record<string, unknown> {
  const self = (email: string) => email.toLowerCase() === calendarKey;
  return {
    kind: 'calendar#event',
    etag: `"${fnv(`${e.id}|${e.updated.getTime()}`)}"`,
    id: e.id,
    status: e.status,
    ...(e.status === 'cancelled' && e.seriesId === null
      ? {}
      : {
          htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(e.id).toString('base64url')}`,
          created: e.created.toISOString(),
          updated: e.updated.toISOString(),
          summary: e.summary,
          ...(e.description ? { description: e.description } : {}),
          ...(e.location ? { location: e.location } : {}),
          creator: { email: e.organizer.email, ...(self(e.organizer.email) ? { self: true } : {}) },
          organizer: {
            email: e.organizer.email,
            displayName: e.organizer.name,
            ...(self(e.organizer.email) ? { self: true } : {}),
          },
          start: when(e.start, e.startDate, tz),
          end: when(e.end, e.endDate, tz),
          ...(e.transparency === 'transparent' ? { transparency: 'transparent' } : {}),
          ...(e.private ? { visibility: 'private' } : {}),
          iCalUID: `${e.seriesId ?? e.id}@google.com`,
          sequence: 0,
          ...(e.attendees.length > 0
            ? {
                attendees: e.attendees.map((a) => ({
                  email: a.email,
                  displayName: a.name,
                  responseStatus: a.response,
                  ...(a.email === e.organizer.email ? { organizer: true } : {}),
                  ...(self(a.email) ? { self: true } : {}),
                })),
              }
            : {}),
          eventType: e.outOfOffice ? 'outOfOffice' : 'default',
        }),
    ...(e.seriesId
      ? {
          recurringEventId: e.seriesId,
          originalStartTime: when(e.start, e.startDate, tz),
        }
      : {}),
  };
}

/**
 * Calendar's read side: `freebusy.query` (up to 50 calendars; rooms and colleagues visible to every
 * user of the domain unless a user hides free/busy, which shows as a per-calendar `notFound`) and
 * `events.list` (own calendars and rooms; `singleEvents=true` expands series; paging).
 */
export function registerGoogleCalendarData(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'google-api' as const };

  app.post('/calendar/v3/freeBusy', { config }, (req, reply) => {
    const auth = authenticateGoogle(state, req, reply);
    const who = auth && caller(state, auth.tenant, auth.access, FREEBUSY_SCOPES, reply);
    if (!auth || who === undefined) {
      return reply;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const from = time(body.timeMin);
    const to = time(body.timeMax);
    if (!from || !to) {
      return GOOGLE_ERRORS.badRequest(
        reply,
        from ? 'Missing timeMax parameter.' : 'Missing timeMin parameter.',
      );
    }
    if (to.getTime() <= from.getTime()) {
      return sendGoogleError(reply, 400, 'timeRangeEmpty', 'The specified time range is empty.');
    }
    if (to.getTime() - from.getTime() > MAX_WINDOW_MS) {
      return sendGoogleError(reply, 400, 'timeRangeTooLong', 'The requested time range is too long.');
    }
    const items = Array.isArray(body.items) ? body.items : [];
    if (items.length > GOOGLE_FREEBUSY_MAX_ITEMS) {
      return sendGoogleError(reply, 400, 'tooManyCalendarsRequested', 'Too many calendars requested.');
    }
    const seed = eventSeed(state.seed, 'google');
    const calendars: Record<string, unknown> = {};
    for (const item of items) {
      const id = typeof (item as { id?: unknown })?.id === 'string' ? (item as { id: string }).id : '';
      const target = id ? resolve(auth.tenant, who, id) : undefined;
      // Colleagues' calendars are visible unless they hide free/busy (the admin included).
      const hidden =
        target !== undefined &&
        !target.own &&
        !target.room &&
        hidesFreeBusy(state.seed, auth.tenant.org.users.find(target.key) ?? { pos: 0 });
      if (!target || hidden) {
        calendars[id] = { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] };
        continue;
      }
      const cal = sandboxCalendar(seed, target.key, { name: target.name, domain: auth.tenant.org.domain });
      const busy = mergedBusy(calendarEvents(cal, from, to), from, to);
      calendars[id] = { busy: busy.map((b) => ({ start: b.start.toISOString(), end: b.end.toISOString() })) };
    }
    return reply.header('content-type', 'application/json; charset=UTF-8').send({
      kind: 'calendar#freeBusy',
      timeMin: from.toISOString(),
      timeMax: to.toISOString(),
      calendars,
    });
  });

  app.get<{ Params: { calendarId: string } }>(
    '/calendar/v3/calendars/:calendarId/events',
    { config },
    (req, reply) => {
      const auth = authenticateGoogle(state, req, reply);
      const who = auth && caller(state, auth.tenant, auth.access, READ_SCOPES, reply);
      if (!auth || who === undefined) {
        return reply;
      }
      const target = resolve(auth.tenant, who, req.params.calendarId);
      if (!target || (!target.own && !target.room)) {
        return GOOGLE_ERRORS.notFound(reply);
      }
      if (param(req.query, 'singleEvents') !== 'true') {
        return GOOGLE_ERRORS.badRequest(reply, 'The sandbox serves events.list with singleEvents=true only.');
      }
      const from = time(param(req.query, 'timeMin'));
      const to = time(param(req.query, 'timeMax'));
      if (!from || !to || to.getTime() <= from.getTime() || to.getTime() - from.getTime() > MAX_WINDOW_MS) {
        return GOOGLE_ERRORS.badRequest(reply, 'Bad timeMin/timeMax.');
      }
      const size = intParam(param(req.query, 'maxResults'), 250, 1, 2500);
      if ('error' in size) {
        return GOOGLE_ERRORS.invalid(
          reply,
          `Invalid value '${size.error}'. Values must be within the range: [1, 2500]`,
        );
      }
      const rawUpdatedMin = param(req.query, 'updatedMin');
      const updatedMin = rawUpdatedMin === undefined ? undefined : time(rawUpdatedMin);
      if (rawUpdatedMin !== undefined && !updatedMin) {
        return GOOGLE_ERRORS.badRequest(reply, 'Bad updatedMin.');
      }
      const tzParam = param(req.query, 'timeZone');
      if (tzParam !== undefined && !isTimeZone(tzParam)) {
        return GOOGLE_ERRORS.badRequest(reply, 'Invalid time zone definition for time zone.');
      }
      const start = state.pages.decode('g.events', param(req.query, 'pageToken') ?? '');
      if (param(req.query, 'pageToken') !== undefined && !start) {
        return GOOGLE_ERRORS.invalid(reply, 'Invalid page token value.');
      }
      const showDeleted = param(req.query, 'showDeleted') === 'true';
      const seed = eventSeed(state.seed, 'google');
      const cal = sandboxCalendar(seed, target.key, { name: target.name, domain: auth.tenant.org.domain });
      const all = calendarEvents(cal, from, to).filter(
        (e) =>
          (showDeleted || e.status !== 'cancelled') &&
          (!updatedMin || e.updated.getTime() >= updatedMin.getTime()),
      );
      const pos = start?.pos ?? 0;
      const page = all.slice(pos, pos + size.value);
      const next = pos + size.value < all.length ? pos + size.value : undefined;
      const tz = tzParam ?? cal.timeZone;
      return reply.header('content-type', 'application/json; charset=UTF-8').send({
        kind: 'calendar#events',
        etag: `"${fnv(`events|${target.key}|${pos}`)}"`,
        summary: target.key,
        updated: new Date(Date.UTC(2025, 0, 6)).toISOString(),
        timeZone: cal.timeZone,
        accessRole: target.own ? 'owner' : 'reader',
        defaultReminders: [],
        ...(next === undefined
          ? { nextSyncToken: `sbx${fnv(`esync|${target.key}`)}` }
          : { nextPageToken: state.pages.encode('g.events', 0, next) }),
        items: page.map((e) => renderEvent(e, target.key, tz)),
      });
    },
  );
}
