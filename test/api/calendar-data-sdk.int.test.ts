import { describe, expect, it } from 'vitest';
import { zonedToUtc } from '../../src/lib/zoned-time.js';
import { mergedBusy, showAs } from '../../src/sandbox/events.js';
import { computeAvailability } from '../../src/services/availability.js';
import { useTestApp } from '../helpers/app.js';
import {
  addDays,
  dstWindow,
  expectedEvents,
  expectedFreeBusy,
  generated,
  sortEntries,
  windowOf,
} from '../helpers/calendar-expect.js';
import { sdkClient } from '../helpers/cronofy-sdk.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: { users: 40, rooms: 6 }, microsoft: { users: 40, rooms: 6 } } });
const receiver = useReceiver();

type FreeBusy = { calendar_id: string; start: string; end: string; free_busy_status: string };
type Event = Record<string, unknown> & { calendar_id: string; start: unknown; end: unknown; summary: string };

describe.each(['google', 'microsoft'] as const)(
  'calendar data through the official cronofy SDK (%s)',
  (provider) => {
    const domain = () =>
      (provider === 'google' ? t.sandbox.google?.domain : t.sandbox.microsoft?.domain) ?? '';

    it('freeBusy and readEvents answer the generated calendar, across a summer-time change', async () => {
      const app = await t.createApplication();
      const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
      const w = dstWindow();
      const { start, end } = windowOf(w);
      // A user whose calendar has the daily stand-up in a zone that changes to or from summer time.
      const users = await usableUsers(t, provider, 20);
      const user = users.find((u) => {
        const { cal, events } = generated(provider, u.email, domain(), start, end);
        return cal.timeZone !== 'Asia/Tokyo' && events.some((e) => e.summary === 'Daily stand-up');
      });
      if (!user) {
        throw new Error('no sandbox user with a stand-up in a DST zone');
      }
      const token = await authorizeAccount(t, receiver, app, sa, user.email, 'read_only');
      const client = sdkClient(t.url, { access_token: token.access_token });
      const calendars = (await client.listCalendars()).calendars as {
        calendar_id: string;
        calendar_primary: boolean;
      }[];
      const primary = calendars.find((c) => c.calendar_primary)?.calendar_id ?? '';
      const { cal, events } = generated(provider, user.email, domain(), start, end);

      const fb = (await client.freeBusy({
        tzid: w.tzid,
        from: w.from,
        to: w.to,
        calendar_ids: [primary],
      })) as {
        free_busy: FreeBusy[];
        pages: { current: number };
      };
      expect(fb.pages.current).toBe(1);
      expect(fb.free_busy.length).toBeGreaterThan(5);
      expect(fb.free_busy.every((b) => b.calendar_id === primary)).toBe(true);
      expect(sortEntries(fb.free_busy.map(({ calendar_id: _c, ...rest }) => rest))).toEqual(
        expectedFreeBusy(provider, events, start, end),
      );

      const read = (await client.readEvents({
        tzid: w.tzid,
        from: w.from,
        to: w.to,
        calendar_ids: [primary],
      })) as {
        events: Event[];
        pages: { next_page?: string };
      };
      expect(read.pages.next_page).toBeUndefined();
      expect(read.events.length).toBeGreaterThan(5);
      const got = sortEntries(
        read.events.map((e) => ({
          summary: e.summary,
          start: e.start as string,
          end: e.end as string,
          status: e.status,
          transparency: e.transparency,
          recurring: e.recurring,
          event_private: e.event_private,
        })),
      );
      expect(got).toEqual(expectedEvents(provider, events));
      if (provider === 'google') {
        expect(new Set(read.events.map((e) => e.event_uid))).toEqual(
          new Set(events.filter((e) => e.status !== 'cancelled').map((e) => `evt_external_${e.id}`)),
        );
      }
      // The stand-up keeps 09:30 local time, so its UTC time moves by the change of offset.
      const standUps = read.events.filter((e) => e.summary === 'Daily stand-up' && e.recurring === true);
      const utcTimes = new Set(standUps.map((e) => String(e.start).slice(11, 16)));
      expect(utcTimes.size, `${cal.timeZone}: ${[...utcTimes].join(' ')}`).toBe(2);

      // localized_times: each time in the zone the series was created in.
      const localized = (await client.readEvents({
        tzid: w.tzid,
        from: w.from,
        to: w.to,
        calendar_ids: [primary],
        localized_times: true,
      })) as { events: Event[] };
      const local = localized.events.filter((e) => e.summary === 'Daily stand-up');
      expect(local.length).toBe(standUps.length);
      for (const e of local) {
        expect(e.start).toMatchObject({ tzid: cal.timeZone });
        expect(String((e.start as { time: string }).time).slice(11, 16)).toBe('09:30');
      }
    });

    it('readEvents pages with pages.next_page over the whole default window', async () => {
      const app = await t.createApplication();
      const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
      const [user] = await usableUsers(t, provider, 1);
      if (!user) {
        throw new Error('no usable user');
      }
      const token = await authorizeAccount(t, receiver, app, sa, user.email, 'read_events');
      const client = sdkClient(t.url, { access_token: token.access_token });
      const calendars = (await client.listCalendars()).calendars as {
        calendar_id: string;
        calendar_primary: boolean;
      }[];
      const primary = calendars.find((c) => c.calendar_primary)?.calendar_id ?? '';
      const today = new Date().toISOString().slice(0, 10);
      const w = { tzid: 'Etc/UTC', from: addDays(today, -10), to: addDays(today, 150) };
      const { events } = generated(
        provider,
        user.email,
        domain(),
        ...(Object.values(windowOf(w)) as [Date, Date]),
      );
      const seen: Event[] = [];
      let page = (await client.readEvents({ ...w, calendar_ids: [primary] })) as {
        events: Event[];
        pages: { current: number; next_page?: string };
      };
      let pages = 1;
      seen.push(...page.events);
      while (page.pages.next_page) {
        expect(page.pages.next_page.startsWith(`${t.url}/v1/events/pages/`)).toBe(true);
        page = (await client.readEvents({ next_page: page.pages.next_page })) as typeof page;
        pages += 1;
        expect(page.pages.current).toBe(pages);
        seen.push(...page.events);
      }
      expect(pages).toBeGreaterThan(1);
      expect(seen.length).toBe(events.filter((e) => e.status !== 'cancelled').length);
    });

    it('availability over the rooms (required: 1) answers when the generated room calendars are free', async () => {
      const app = await t.createApplication();
      const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
      const { rooms } = await t.sandbox.control.listRooms(provider, { limit: 6 });
      const subs = new Map<string, string>();
      for (const room of rooms) {
        const token = await authorizeAccount(t, receiver, app, sa, room.email, 'free_busy');
        subs.set(token.sub, room.email);
      }
      const day = addDays(dstWindow().from, 4);
      const period = {
        start: zonedToUtc(day, 8 * 60, 'Europe/London'),
        end: zonedToUtc(day, 18 * 60, 'Europe/London'),
      };
      const client = sdkClient(t.url, { access_token: app.clientSecret });
      const answer = (await client.availability({
        participants: [{ members: [...subs.keys()].map((sub) => ({ sub })), required: 1 }],
        required_duration: { minutes: 30 },
        available_periods: [{ start: period.start.toISOString(), end: period.end.toISOString() }],
        start_interval: { minutes: 30 },
        buffer: { before: { minutes: 5 } },
        response_format: 'slots',
      })) as {
        available_periods: { start: string; end: string; participants: { sub: string }[] }[];
        available_slots: { start: string; end: string; participants: { sub: string }[] }[];
      };
      const busyOf = (email: string) => {
        const { events } = generated(
          provider,
          email,
          domain(),
          new Date(period.start.getTime() - 86_400_000),
          new Date(period.end.getTime() + 86_400_000),
        );
        return provider === 'google'
          ? mergedBusy(events, new Date(0), new Date(8.64e15))
          : events.filter((e) => e.status !== 'cancelled' && showAs(e) !== 'free');
      };
      const expected = computeAvailability({
        groups: [
          {
            required: 1,
            members: [...subs].map(([sub, email]) => ({
              sub,
              busy: busyOf(email).map((b) => ({ start: b.start.getTime(), end: b.end.getTime() })),
            })),
          },
        ],
        periods: [{ start: period.start.getTime(), end: period.end.getTime() }],
        durationMs: 30 * 60_000,
        bufferBeforeMs: 5 * 60_000,
        startIntervalMs: 30 * 60_000,
      });
      const render = (x: { start: number; end: number; participants: string[] }) => ({
        start: `${new Date(x.start).toISOString().slice(0, 19)}Z`,
        end: `${new Date(x.end).toISOString().slice(0, 19)}Z`,
        participants: x.participants.map((sub) => ({ sub })),
      });
      expect(answer.available_slots.length).toBeGreaterThan(0);
      expect(answer.available_slots).toEqual(expected.slots.map(render));
      expect(answer.available_periods).toEqual(expected.periods.map(render));
      // Independently of the algorithm: a room is offered for a slot exactly when no busy event of
      // its generated calendar touches the slot or the 5 minutes before it (buffer.before).
      for (const slot of answer.available_slots) {
        const s = Date.parse(slot.start) - 5 * 60_000;
        const e = Date.parse(slot.end);
        const free = [...subs].filter(
          ([, email]) => !busyOf(email).some((b) => b.start.getTime() < e && b.end.getTime() > s),
        );
        expect(slot.participants.map((p) => p.sub).sort(), slot.start).toEqual(
          free.map(([sub]) => sub).sort(),
        );
      }
    });
  },
);
