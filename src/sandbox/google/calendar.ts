import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DirUser } from '../generate.js';
import { fnv, intParam, param } from '../http.js';
import { SECONDARY_CALENDARS } from '../names.js';
import type { GoogleTenant, SandboxState } from '../state.js';
import { generatedResourceName, pagePosition } from './directory.js';
import { GOOGLE_ERRORS, sendGoogleError } from './errors.js';
import { authenticateGoogle, type GoogleAccess, hasScope } from './token.js';

const SCOPE = 'https://www.googleapis.com/auth/';
const CALENDAR_SCOPES = [
  `${SCOPE}calendar`,
  `${SCOPE}calendar.readonly`,
  `${SCOPE}calendar.calendarlist`,
  `${SCOPE}calendar.calendarlist.readonly`,
  `${SCOPE}calendar.calendars`,
  `${SCOPE}calendar.calendars.readonly`,
];
const CONFERENCE = { allowedConferenceSolutionTypes: ['hangoutsMeet'] };

type CalendarInfo = { id: string; summary: string; timeZone: string; primary: boolean; owner: boolean };

/** The calendars a user has: the primary one (id = email) and 0–3 secondary ones. */
function calendarsOf(u: DirUser): CalendarInfo[] {
  const list: CalendarInfo[] = [
    { id: u.email, summary: u.email, timeZone: u.timeZone, primary: true, owner: true },
  ];
  for (let k = 0; k < u.secondaryCalendars; k++) {
    list.push({
      id: `c_${u.id}_${k}@group.calendar.google.com`,
      summary: SECONDARY_CALENDARS[k % SECONDARY_CALENDARS.length] as string,
      timeZone: u.timeZone,
      primary: false,
      owner: true,
    });
  }
  return list;
}

function renderCalendar(c: CalendarInfo): Record<string, unknown> {
  return {
    kind: 'calendar#calendar',
    etag: `"${fnv(`cal|${c.id}|${c.summary}`)}"`,
    id: c.id,
    summary: c.summary,
    timeZone: c.timeZone,
    conferenceProperties: CONFERENCE,
  };
}

function renderListEntry(c: CalendarInfo): Record<string, unknown> {
  return {
    kind: 'calendar#calendarListEntry',
    etag: `"${fnv(`entry|${c.id}|${c.summary}`)}"`,
    id: c.id,
    summary: c.summary,
    timeZone: c.timeZone,
    colorId: c.primary ? '14' : '7',
    backgroundColor: c.primary ? '#9fe1e7' : '#42d692',
    foregroundColor: '#000000',
    selected: true,
    accessRole: c.owner ? 'owner' : 'reader',
    defaultReminders: c.primary ? [{ method: 'popup', minutes: 10 }] : [],
    ...(c.primary ? { primary: true, notificationSettings: { notifications: [] } } : {}),
    conferenceProperties: CONFERENCE,
  };
}

/** The impersonated user for a Calendar call: token, scope, a Calendar-enabled mailbox, quota. */
function calendarCaller(
  state: SandboxState,
  tenant: GoogleTenant,
  access: GoogleAccess,
  reply: FastifyReply,
): DirUser | null | undefined {
  if (!hasScope(access, CALENDAR_SCOPES)) {
    GOOGLE_ERRORS.insufficientScopes(reply);
    return undefined;
  }
  const wait = state.quotaGuard.calendarCall(access.sub || tenant.key.client_email);
  if (wait !== undefined) {
    GOOGLE_ERRORS.quota(reply, state.quotas.googleQuotaStatus, true, wait);
    return undefined;
  }
  if (!access.sub) {
    return null; // the service account itself: it has an (empty) calendar list of its own
  }
  const user = tenant.org.users.find(access.sub);
  if (!user?.mailbox) {
    GOOGLE_ERRORS.notACalendarUser(reply);
    return undefined;
  }
  return user;
}

export function registerGoogleCalendar(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'google-api' as const };

  app.get('/calendar/v3/users/me/calendarList', { config }, (req, reply) => {
    const auth = authenticateGoogle(state, req, reply);
    const user = auth && calendarCaller(state, auth.tenant, auth.access, reply);
    if (!auth || user === undefined) {
      return reply;
    }
    const size = intParam(param(req.query, 'maxResults'), 100, 1, 250);
    if ('error' in size) {
      return sendGoogleError(
        reply,
        400,
        'invalid',
        `Invalid value '${size.error}'. Values must be within the range: [1, 250]`,
      );
    }
    const start = pagePosition(state, 'g.cals', param(req.query, 'pageToken'));
    if (start === undefined) {
      return GOOGLE_ERRORS.invalid(reply, 'Invalid page token value.');
    }
    const all = user ? calendarsOf(user) : [];
    const items = all.slice(start, start + size.value);
    const next = start + size.value < all.length ? start + size.value : undefined;
    return reply.header('content-type', 'application/json; charset=UTF-8').send({
      kind: 'calendar#calendarList',
      etag: `"${fnv(`list|${user?.id}|${start}`)}"`,
      ...(next === undefined
        ? { nextSyncToken: `sbx${fnv(`sync|${user?.id}`)}` }
        : { nextPageToken: state.pages.encode('g.cals', 0, next) }),
      items: items.map(renderListEntry),
    });
  });

  app.get<{ Params: { calendarId: string } }>(
    '/calendar/v3/calendars/:calendarId',
    { config },
    (req, reply) => {
      const auth = authenticateGoogle(state, req, reply);
      const user = auth && calendarCaller(state, auth.tenant, auth.access, reply);
      if (!auth || user === undefined) {
        return reply;
      }
      const id = req.params.calendarId.toLowerCase();
      const org = auth.tenant.org;
      if (user) {
        const own = calendarsOf(user).find(
          (c) => c.id.toLowerCase() === id || (id === 'primary' && c.primary),
        );
        if (own) {
          return reply.send(renderCalendar(own));
        }
      }
      // Rooms are visible to every user of the domain; other users' calendars only to an admin.
      const room = org.rooms.find(id);
      if (room) {
        return reply.send(
          renderCalendar({
            id: room.email,
            summary: generatedResourceName(room),
            timeZone: 'UTC',
            primary: true,
            owner: false,
          }),
        );
      }
      const other = org.users.find(id);
      if (user?.admin && other?.mailbox && !other.suspended) {
        return reply.send(renderCalendar(calendarsOf(other)[0] as CalendarInfo));
      }
      return GOOGLE_ERRORS.notFound(reply);
    },
  );
}
