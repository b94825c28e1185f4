import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTimeZone } from '../../lib/zoned-time.js';
import {
  calendarEvents,
  eventSeed,
  type SandboxEvent,
  sandboxCalendar,
  showAs,
  wallClock,
} from '../events.js';
import { fnv, odata } from '../http.js';
import type { MicrosoftTenant, SandboxState } from '../state.js';
import { GRAPH_ERRORS, sendGraphError } from './errors.js';
import { contextUrl, nextLink, skipToken, topParam } from './odata.js';
import { authenticateGraph } from './token.js';

/** getSchedule: mailboxes per request (Graph's documented ceiling). */
export const GRAPH_SCHEDULES_MAX = 20;
/** getSchedule: the longest window Graph accepts (62 days). */
const MAX_SCHEDULE_MS = 62 * 86_400_000;
/** calendarView: a bound on one request's window in the sandbox. */
const MAX_VIEW_MS = 400 * 86_400_000;
const VIEW_CODES = { free: '0', tentative: '1', busy: '2', oof: '3' } as const;
const GRAPH_RESPONSES = {
  accepted: 'accepted',
  tentative: 'tentativelyAccepted',
  declined: 'declined',
  needsAction: 'none',
} as const;

type Box = { address: string; name: string };

/** A mailbox of the tenant by id or address, with a mailbox, inside the access policy; else undefined. */
function findBox(t: MicrosoftTenant, key: string): Box | 'no_mailbox' | 'denied' | undefined {
  const found = t.org.findMailbox(key);
  if (!found) {
    return undefined;
  }
  if ('room' in found) {
    return { address: found.room.email.toLowerCase(), name: found.room.name };
  }
  if (!found.user.mailbox) {
    return 'no_mailbox';
  }
  if (found.user.accessDenied) {
    return 'denied';
  }
  return { address: found.user.email.toLowerCase(), name: found.user.displayName };
}

/** The mailbox a route addresses, after auth, existence, licence, access policy and quota. */
function addressed(
  state: SandboxState,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): { t: MicrosoftTenant; box: Box } | undefined {
  const t = authenticateGraph(state, req, reply, false);
  if (!t) {
    return undefined;
  }
  const box = findBox(t, req.params.id);
  if (box === undefined) {
    GRAPH_ERRORS.invalidUser(req, reply, req.params.id);
    return undefined;
  }
  if (box === 'no_mailbox') {
    GRAPH_ERRORS.noMailbox(req, reply);
    return undefined;
  }
  if (box === 'denied') {
    GRAPH_ERRORS.accessPolicy(req, reply);
    return undefined;
  }
  const wait = state.quotaGuard.graphMailboxCall(box.address);
  if (wait !== undefined) {
    GRAPH_ERRORS.throttled(req, reply, wait);
    return undefined;
  }
  return { t, box };
}

/** Graph's dateTimeTimeZone in UTC (what it answers without a Prefer: outlook.timezone header). */
function utcTime(raw: unknown): Date | undefined {
  const o = raw as { dateTime?: unknown; timeZone?: unknown } | undefined;
  if (typeof o?.dateTime !== 'string' || (o.timeZone !== undefined && o.timeZone !== 'UTC')) {
    return undefined;
  }
  return parseTime(o.dateTime.endsWith('Z') ? o.dateTime : `${o.dateTime}Z`);
}

function parseTime(raw: string | undefined): Date | undefined {
  if (!raw || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$/i.test(raw)) {
    return undefined;
  }
  const d = new Date(/(Z|[+-]\d\d:\d\d)$/i.test(raw) ? raw : `${raw}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function dtz(at: Date, tz: string): { dateTime: string; timeZone: string } {
  return { dateTime: wallClock(at, tz), timeZone: tz };
}

function renderEvent(e: SandboxEvent, owner: Box, tz: string): Record<string, unknown> {
  const person = (p: { email: string; name: string }) => ({
    emailAddress: { name: p.name, address: p.email },
  });
  return {
    '@odata.etag': `W/"${fnv(`${e.id}|${e.updated.getTime()}`)}"`,
    id: `AAMkAD${Buffer.from(`${owner.address}|${e.id}`).toString('base64url')}=`,
    createdDateTime: e.created.toISOString(),
    lastModifiedDateTime: e.updated.toISOString(),
    iCalUId: `040000008200E00074C5B7101A82E008${fnv(e.seriesId ?? e.id)}`,
    subject: e.summary,
    bodyPreview: e.description ?? '',
    body: { contentType: 'text', content: e.description ?? '' },
    importance: 'normal',
    sensitivity: e.private ? 'private' : 'normal',
    isAllDay: e.allDay,
    isCancelled: e.status === 'cancelled',
    isOrganizer: e.organizer.email === owner.address,
    showAs: showAs(e),
    type: e.seriesId ? 'occurrence' : 'singleInstance',
    seriesMasterId: e.seriesId
      ? `AAMkAD${Buffer.from(`${owner.address}|${e.seriesId}`).toString('base64url')}=`
      : null,
    start: dtz(e.start, e.allDay ? e.timeZone : tz),
    end: dtz(e.end, e.allDay ? e.timeZone : tz),
    originalStartTimeZone: e.timeZone,
    originalEndTimeZone: e.timeZone,
    location: { displayName: e.location ?? '', locationType: 'default' },
    attendees: e.attendees.map((a) => ({
      type: 'required',
      status: { response: GRAPH_RESPONSES[a.response], time: '0001-01-01T00:00:00Z' },
      ...person(a),
    })),
    organizer: person(e.organizer),
    responseStatus: { response: e.organizer.email === owner.address ? 'organizer' : 'accepted' },
  };
}

/** The `Prefer: outlook.timezone="…"` zone (IANA names accepted; Windows names fall back to UTC). */
function preferredZone(req: FastifyRequest): string {
  const h = req.headers.prefer;
  const m = typeof h === 'string' ? /outlook\.timezone="([^"]+)"/i.exec(h) : null;
  return m?.[1] && isTimeZone(m[1]) ? m[1] : 'UTC';
}

/**
 * Graph's calendar read side: `POST /users/{id}/calendar/getSchedule` (up to 20 schedules, per-schedule
 * errors) and `GET /users/{id}/calendarView` (expanded occurrences, `$top` and `@odata.nextLink`).
 */
export function registerGraphCalendarData(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'graph' as const, mailboxParam: 'id' };

  app.post<{ Params: { id: string } }>('/v1.0/users/:id/calendar/getSchedule', { config }, (req, reply) => {
    const at = addressed(state, req, reply);
    if (!at) {
      return reply;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const from = utcTime(body.startTime);
    const to = utcTime(body.endTime);
    const schedules = Array.isArray(body.schedules) ? body.schedules : undefined;
    const interval = body.availabilityViewInterval === undefined ? 30 : Number(body.availabilityViewInterval);
    if (!from || !to || !schedules || !(interval >= 5 && interval <= 1440)) {
      return sendGraphError(req, reply, 400, 'ErrorInvalidParameter', 'The request is invalid.');
    }
    if (to.getTime() <= from.getTime() || to.getTime() - from.getTime() > MAX_SCHEDULE_MS) {
      return sendGraphError(
        req,
        reply,
        400,
        'ErrorInvalidTimeInterval',
        'The time interval is invalid: it must be positive and at most 62 days.',
      );
    }
    if (schedules.length === 0 || schedules.length > GRAPH_SCHEDULES_MAX) {
      return sendGraphError(
        req,
        reply,
        400,
        'ErrorInvalidParameter',
        `The number of schedules must be between 1 and ${GRAPH_SCHEDULES_MAX}.`,
      );
    }
    const seed = eventSeed(state.seed, 'microsoft');
    const value = schedules.map((raw) => {
      const scheduleId = typeof raw === 'string' ? raw : '';
      const box = scheduleId ? findBox(at.t, scheduleId) : undefined;
      if (box === undefined || typeof box === 'string') {
        return {
          scheduleId,
          availabilityView: '',
          scheduleItems: [],
          error: {
            message: 'The specified user could not be found or has no mailbox.',
            responseCode: box === 'denied' ? 'ErrorAccessDenied' : 'ErrorMailRecipientNotFound',
          },
        };
      }
      const cal = sandboxCalendar(seed, box.address, { name: box.name, domain: at.t.org.domain });
      const events = calendarEvents(cal, from, to).filter((e) => e.status !== 'cancelled');
      const slots = Math.ceil((to.getTime() - from.getTime()) / (interval * 60_000));
      let view = '';
      for (let k = 0; k < slots; k++) {
        const s = from.getTime() + k * interval * 60_000;
        const e = s + interval * 60_000;
        let code = '0';
        for (const ev of events) {
          if (ev.start.getTime() < e && ev.end.getTime() > s) {
            const c = VIEW_CODES[showAs(ev)];
            code = c > code ? c : code;
          }
        }
        view += code;
      }
      return {
        scheduleId,
        availabilityView: view,
        scheduleItems: events.map((ev) => ({
          isPrivate: ev.private,
          status: showAs(ev),
          ...(ev.private ? {} : { subject: ev.summary, location: ev.location ?? '' }),
          isMeeting: ev.attendees.length > 0,
          isRecurring: ev.seriesId !== null,
          start: dtz(ev.start, 'UTC'),
          end: dtz(ev.end, 'UTC'),
        })),
        workingHours: {
          daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
          startTime: '08:00:00.0000000',
          endTime: '17:00:00.0000000',
          timeZone: { name: cal.timeZone },
        },
      };
    });
    return reply.send({
      '@odata.context': contextUrl(state, 'Collection(microsoft.graph.scheduleInformation)'),
      value,
    });
  });

  const calendarView = (
    req: FastifyRequest<{ Params: { id: string; cid?: string } }>,
    reply: FastifyReply,
  ) => {
    const at = addressed(state, req, reply);
    const top = at ? topParam(req, reply, 10, 1000) : undefined;
    const pos = top ? skipToken(state, req, reply, 'm.view') : undefined;
    if (!at || !top || !pos) {
      return reply;
    }
    const q = odata(req.query);
    const from = parseTime(q.get('startdatetime'));
    const to = parseTime(q.get('enddatetime'));
    if (!from || !to) {
      return sendGraphError(
        req,
        reply,
        400,
        'ErrorInvalidParameter',
        'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.',
      );
    }
    if (to.getTime() <= from.getTime() || to.getTime() - from.getTime() > MAX_VIEW_MS) {
      return sendGraphError(req, reply, 400, 'ErrorInvalidTimeInterval', 'The time interval is invalid.');
    }
    let key = at.box.address;
    if (req.params.cid !== undefined) {
      const m = /^AAMkA([A-Za-z0-9_-]+)AAA=$/.exec(req.params.cid);
      const decoded = m ? Buffer.from(m[1] as string, 'base64url').toString('utf8') : '';
      if (!decoded.startsWith(`${at.box.address}#`)) {
        return GRAPH_ERRORS.itemNotFound(req, reply);
      }
      key = decoded.endsWith('#0') ? at.box.address : decoded;
    }
    const seed = eventSeed(state.seed, 'microsoft');
    const cal = sandboxCalendar(seed, key, { name: at.box.name, domain: at.t.org.domain });
    // calendarView lists occurrences that are not deleted; a cancelled meeting stays, marked isCancelled.
    const all = calendarEvents(cal, from, to).filter((e) => e.status !== 'cancelled' || e.seriesId === null);
    const page = all.slice(pos.pos, pos.pos + top);
    const end = pos.pos + page.length;
    const tz = preferredZone(req);
    return reply.send({
      '@odata.context': contextUrl(state, `users('${encodeURIComponent(req.params.id)}')/calendarView`),
      ...(end < all.length
        ? { '@odata.nextLink': nextLink(state, req, state.pages.encode('m.view', 0, end)) }
        : {}),
      value: page.map((e) => renderEvent(e, at.box, tz)),
    });
  };
  app.get<{ Params: { id: string } }>('/v1.0/users/:id/calendarView', { config }, calendarView);
  app.get<{ Params: { id: string; cid: string } }>(
    '/v1.0/users/:id/calendars/:cid/calendarView',
    { config },
    calendarView,
  );
}
