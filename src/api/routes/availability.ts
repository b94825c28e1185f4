import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import { formatUtc } from '../../lib/zoned-time.js';
import { queryAvailability } from '../../services/availability-query.js';
import type { AppContext } from '../../services/context.js';
import { authenticate, callerOf } from '../auth.js';
import { errorBody, jsonErrors } from '../responses.js';
import { parseTime } from './calendar-query.js';

const minutes = (max: number) => z.object({ minutes: z.number().int().min(0).max(max) });
const period = z.object({ start: z.string().max(40), end: z.string().max(40) });

const member = z.looseObject({
  sub: z.string().max(64).describe('an Account (acc_…) of this Application'),
  calendar_ids: z.array(z.string().max(64)).max(50).optional(),
  available_periods: z.array(period).min(1).max(50).optional(),
});

const body = z.looseObject({
  participants: z
    .array(
      z.looseObject({
        members: z.array(member).min(1).max(500),
        required: z.union([z.literal('all'), z.number().int().min(1).max(500)]).default('all'),
      }),
    )
    .min(1)
    .max(10),
  required_duration: z.object({ minutes: z.number().int().min(1).max(1440) }),
  available_periods: z.array(period).min(1).max(50),
  buffer: z.object({ before: minutes(1440).optional(), after: minutes(1440).optional() }).optional(),
  start_interval: z.object({ minutes: z.number().int().min(1).max(1440) }).optional(),
  response_format: z.enum(['periods', 'slots', 'overlapping_slots']).optional(),
  max_results: z.number().int().min(1).max(512).optional(),
});

const available = z.object({
  start: z.string(),
  end: z.string(),
  participants: z.array(z.object({ sub: z.string() })),
});

/** The query periods' whole span at most (Cronofy's limit on one query). */
const MAX_SPAN_MS = 35 * 86_400_000;
const MAX_MEMBERS = 500;

type Period = { start: number; end: number };

function periods(list: { start: string; end: string }[], field: string): Period[] {
  const out: Period[] = [];
  list.forEach((p, k) => {
    const start = parseTime(p.start);
    const end = parseTime(p.end);
    if (!start || !end || end.getTime() <= start.getTime()) {
      throw new ValidationError('Invalid period', {
        [`${field}.${k}`]: [
          {
            key: 'errors.invalid',
            description: 'start and end must be ISO 8601 times (with Z or an offset), end after start',
          },
        ],
      });
    }
    out.push({ start: start.getTime(), end: end.getTime() });
  });
  return out;
}

/**
 * `POST /v1/availability` (Cronofy's Availability query, the SDK's `availability`): the Application's
 * `Bearer client_secret`, participants as groups of Account `sub`s with `required: all|N`.
 */
export const availabilityRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.post(
      '/v1/availability',
      {
        preParsing: authenticate(app, 'application'),
        schema: {
          tags: ['calendar data'],
          summary: 'When are the required participants free (Cronofy Availability)',
          body,
          response: {
            200: z.object({
              available_periods: z.array(available),
              available_slots: z.array(available).optional(),
            }),
            ...jsonErrors,
            503: errorBody.describe(
              'The provider is unreachable or throttling: retry after Retry-After (seconds)',
            ),
          },
        },
      },
      async (req) => {
        const application = callerOf(req, 'application');
        const b = req.body;
        const query = periods(b.available_periods, 'available_periods');
        const first = Math.min(...query.map((p) => p.start));
        const last = Math.max(...query.map((p) => p.end));
        if (last - first > MAX_SPAN_MS) {
          throw new ValidationError('Window too long', {
            available_periods: [
              { key: 'errors.too_long', description: 'the periods must lie within 35 days' },
            ],
          });
        }
        const total = b.participants.reduce((n, g) => n + g.members.length, 0);
        if (total > MAX_MEMBERS) {
          throw new ValidationError('Too many members', {
            participants: [{ key: 'errors.too_many', description: `at most ${MAX_MEMBERS} members in all` }],
          });
        }
        b.participants.forEach((g, k) => {
          if (g.required !== 'all' && g.required > g.members.length) {
            throw new ValidationError('Invalid required', {
              [`participants.${k}.required`]: [
                { key: 'errors.invalid', description: 'required is more than the group has members' },
              ],
            });
          }
        });
        const slots = b.response_format === 'slots' || b.response_format === 'overlapping_slots';
        const result = await queryAvailability(
          app,
          application.id,
          {
            groups: b.participants.map((g, k) => ({
              required: g.required,
              members: g.members.map((m, j) => ({
                sub: m.sub,
                calendarIds: m.calendar_ids,
                periods: m.available_periods
                  ? periods(m.available_periods, `participants.${k}.members.${j}.available_periods`)
                  : undefined,
              })),
            })),
            periods: query,
            durationMs: b.required_duration.minutes * 60_000,
            bufferBeforeMs: (b.buffer?.before?.minutes ?? 0) * 60_000,
            bufferAfterMs: (b.buffer?.after?.minutes ?? 0) * 60_000,
            startIntervalMs: b.start_interval ? b.start_interval.minutes * 60_000 : undefined,
            overlappingSlots: b.response_format === 'overlapping_slots',
            maxResults: b.max_results ?? 512,
          },
          { logger: app.logger.child({ requestId: req.id }) },
        );
        const render = (t: { start: number; end: number; participants: string[] }) => ({
          start: formatUtc(new Date(t.start)),
          end: formatUtc(new Date(t.end)),
          participants: t.participants.map((sub) => ({ sub })),
        });
        return {
          available_periods: result.periods.map(render),
          ...(slots ? { available_slots: result.slots.map(render) } : {}),
        };
      },
    );
  };
