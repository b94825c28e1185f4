import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { formatUtc } from '../../lib/zoned-time.js';
import {
  accountEventsPage,
  accountFreeBusy,
  canReadEvents,
  canReadFreeBusy,
  loadCalendarOwner,
  selectCalendars,
} from '../../services/calendar-data.js';
import { loadPageState, savePageState } from '../../services/calendar-pages.js';
import type { AppContext } from '../../services/context.js';
import { authenticate, callerOf } from '../auth.js';
import { errorBody, jsonErrors } from '../responses.js';
import { calendarIdsOf, readQuerySchema, readWindow, renderEvent, requestOrigin } from './calendar-query.js';

/** free_busy entries per page. */
const FREE_BUSY_PER_PAGE = 500;

const pages = z.object({
  current: z.number().int(),
  total: z.number().int().describe('a lower bound while next_page is present (events)'),
  next_page: z.string().optional().describe('GET it with the same token for the next page'),
});

const time = z.union([z.string(), z.object({ time: z.string(), tzid: z.string() })]);
const person = z.object({ email: z.string().nullable(), display_name: z.string().nullable() });

const event = z.looseObject({
  calendar_id: z.string(),
  event_uid: z.string(),
  summary: z.string(),
  description: z.string(),
  start: time.describe('UTC time, or a date for an all-day event; {time, tzid} with localized_times=true'),
  end: time,
  deleted: z.boolean(),
  created: z.string().nullable(),
  updated: z.string().nullable(),
  location: z.object({ description: z.string() }).optional(),
  participation_status: z.string(),
  attendees: z.array(person.extend({ status: z.string() })),
  organizer: person.optional(),
  transparency: z.enum(['opaque', 'transparent']),
  status: z.enum(['confirmed', 'tentative', 'cancelled']),
  recurring: z.boolean(),
  event_private: z.boolean(),
});

const freeBusy = z.object({
  calendar_id: z.string(),
  start: z.string(),
  end: z.string(),
  free_busy_status: z.enum(['busy', 'tentative']),
});

const dataErrors = {
  ...jsonErrors,
  502: errorBody.describe(
    'The provider refused for good (the reason is the code; the Profile is now disconnected)',
  ),
  503: errorBody.describe('The provider is unreachable or throttling: retry after Retry-After (seconds)'),
} as const;

const eventsQuerySchema = readQuerySchema.extend({
  include_deleted: z.enum(['true', 'false']).optional(),
  last_modified: z.string().max(40).optional().describe('only events changed since this time'),
  localized_times: z.enum(['true', 'false']).optional(),
});

/** What a next_page link of `/v1/events` stands for. */
const eventsPage = z.object({
  accountId: z.string(),
  calendarIds: z.array(z.string()),
  start: z.number(),
  end: z.number(),
  tzid: z.string(),
  includeDeleted: z.boolean(),
  updatedSince: z.number().nullable(),
  localized: z.boolean(),
  position: z.object({ calendar: z.number().int().min(0), cursor: z.string().nullable() }),
  page: z.number().int().min(1),
});
type EventsPage = z.infer<typeof eventsPage>;

const freeBusyPage = z.object({
  accountId: z.string(),
  calendarIds: z.array(z.string()),
  start: z.number(),
  end: z.number(),
  page: z.number().int().min(1),
});
type FreeBusyPage = z.infer<typeof freeBusyPage>;

/**
 * Cronofy's read APIs through an Account token: `GET /v1/free_busy` (free/busy or events scope) and
 * `GET /v1/events` (events scope), with `pages.next_page` links served at `…/pages/{id}`.
 */
export const calendarDataRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    const preParsing = authenticate(app, 'account');
    const signals = new WeakMap<FastifyRequest, AbortSignal>();
    const opts = (req: FastifyRequest) => ({
      signal: signals.get(req) ?? new AbortController().signal,
      logger: app.logger.child({ requestId: req.id }),
    });
    server.addHook('preHandler', async (req, reply) => {
      signals.set(req, abortOnHangUp(reply));
    });

    const owner = async (req: FastifyRequest, need: 'free_busy' | 'events') => {
      const caller = callerOf(req, 'account');
      const allowed =
        need === 'events' ? canReadEvents(caller.token.scope) : canReadFreeBusy(caller.token.scope);
      if (!allowed) {
        throw new ForbiddenError(
          need === 'events'
            ? 'This Account token has no read_events scope'
            : 'This Account token has no free/busy or events scope',
        );
      }
      return loadCalendarOwner(app, caller.token.applicationId, caller.accountId);
    };

    const freeBusyAnswer = async (req: FastifyRequest, state: FreeBusyPage) => {
      const o = await owner(req, 'free_busy');
      if (o.account.id !== state.accountId) {
        throw new NotFoundError('Page', 'of another Account');
      }
      const selected = selectCalendars(o, state.calendarIds);
      const window = { start: new Date(state.start), end: new Date(state.end) };
      const all = await accountFreeBusy(app, o, selected, window, opts(req));
      const total = Math.max(1, Math.ceil(all.length / FREE_BUSY_PER_PAGE));
      const slice = all.slice((state.page - 1) * FREE_BUSY_PER_PAGE, state.page * FREE_BUSY_PER_PAGE);
      const next =
        state.page < total
          ? `${requestOrigin(req)}/v1/free_busy/pages/${await savePageState(app, 'free_busy', { ...state, page: state.page + 1 })}`
          : undefined;
      return {
        pages: { current: state.page, total, ...(next ? { next_page: next } : {}) },
        free_busy: slice.map((b) => ({
          calendar_id: b.calendarId,
          start: formatUtc(b.start),
          end: formatUtc(b.end),
          free_busy_status: b.status,
        })),
      };
    };

    const eventsAnswer = async (req: FastifyRequest, state: EventsPage) => {
      const o = await owner(req, 'events');
      if (o.account.id !== state.accountId) {
        throw new NotFoundError('Page', 'of another Account');
      }
      const selected = selectCalendars(o, state.calendarIds);
      const q = {
        window: { start: new Date(state.start), end: new Date(state.end) },
        includeDeleted: state.includeDeleted,
        updatedSince: state.updatedSince === null ? undefined : new Date(state.updatedSince),
      };
      const { events, next } = await accountEventsPage(app, o, selected, q, state.position, opts(req));
      const link = next
        ? `${requestOrigin(req)}/v1/events/pages/${await savePageState(app, 'events', { ...state, position: next, page: state.page + 1 })}`
        : undefined;
      return {
        pages: {
          current: state.page,
          total: link ? state.page + 1 : state.page,
          ...(link ? { next_page: link } : {}),
        },
        events: events.map((e) =>
          renderEvent(e.calendarId, o.account.email, e.event, state.tzid, state.localized),
        ),
      };
    };

    server.get(
      '/v1/free_busy',
      {
        preParsing,
        schema: {
          tags: ['calendar data'],
          summary: "Free/busy of the Account's Calendars (Cronofy Free Busy)",
          querystring: readQuerySchema,
          response: { 200: z.object({ pages, free_busy: z.array(freeBusy) }), ...dataErrors },
        },
      },
      async (req) => {
        const window = readWindow(req.query);
        const o = await owner(req, 'free_busy');
        const calendarIds = selectCalendars(o, calendarIdsOf(req.query)).map((c) => c.id);
        return freeBusyAnswer(req, {
          accountId: o.account.id,
          calendarIds,
          start: window.start.getTime(),
          end: window.end.getTime(),
          page: 1,
        });
      },
    );

    server.get(
      '/v1/events',
      {
        preParsing,
        schema: {
          tags: ['calendar data'],
          summary: "Events of the Account's Calendars, recurring series expanded (Cronofy Read Events)",
          querystring: eventsQuerySchema,
          response: { 200: z.object({ pages, events: z.array(event) }), ...dataErrors },
        },
      },
      async (req) => {
        const window = readWindow(req.query);
        const updated =
          req.query.last_modified === undefined ? undefined : lastModified(req.query.last_modified);
        const o = await owner(req, 'events');
        const calendarIds = selectCalendars(o, calendarIdsOf(req.query)).map((c) => c.id);
        return eventsAnswer(req, {
          accountId: o.account.id,
          calendarIds,
          start: window.start.getTime(),
          end: window.end.getTime(),
          tzid: window.tzid,
          includeDeleted: req.query.include_deleted === 'true',
          updatedSince: updated?.getTime() ?? null,
          localized: req.query.localized_times === 'true',
          position: { calendar: 0, cursor: null },
          page: 1,
        });
      },
    );

    const pageParams = z.object({ id: z.string().max(64) });
    server.get(
      '/v1/events/pages/:id',
      {
        preParsing,
        schema: {
          tags: ['calendar data'],
          summary: 'The next page of a /v1/events answer (its pages.next_page)',
          params: pageParams,
          response: { 200: z.object({ pages, events: z.array(event) }), ...dataErrors },
        },
      },
      async (req) => {
        const parsed = eventsPage.safeParse(await loadPageState(app, 'events', req.params.id));
        if (!parsed.success) {
          throw new NotFoundError('Page', req.params.id);
        }
        return eventsAnswer(req, parsed.data);
      },
    );

    server.get(
      '/v1/free_busy/pages/:id',
      {
        preParsing,
        schema: {
          tags: ['calendar data'],
          summary: 'The next page of a /v1/free_busy answer (its pages.next_page)',
          params: pageParams,
          response: { 200: z.object({ pages, free_busy: z.array(freeBusy) }), ...dataErrors },
        },
      },
      async (req) => {
        const parsed = freeBusyPage.safeParse(await loadPageState(app, 'free_busy', req.params.id));
        if (!parsed.success) {
          throw new NotFoundError('Page', req.params.id);
        }
        return freeBusyAnswer(req, parsed.data);
      },
    );
  };

function lastModified(raw: string): Date {
  const d = /^\d{4}-\d\d-\d\dT/.test(raw) ? new Date(raw) : undefined;
  if (!d || Number.isNaN(d.getTime())) {
    throw new ValidationError('Invalid last_modified', {
      last_modified: [{ key: 'errors.invalid', description: 'last_modified must be an ISO 8601 time' }],
    });
  }
  return d;
}

/** A signal that fires when the client hangs up before its answer is sent (provider calls stop). */
function abortOnHangUp(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) {
      controller.abort();
    }
  });
  return controller.signal;
}
