/**
 * Every sandbox calendar's events, generated lazily from the seed and the calendar's key (its
 * lower-cased id or mailbox address): nothing is stored, a window costs only the days it covers, so
 * a 100,000-mailbox org costs nothing until a calendar is read. Provider-neutral: the Google and
 * Graph routes render these records in their wire formats.
 *
 * Each calendar has a time zone its events were created in (chosen from zones with DST changes,
 * plus Tokyo without one) and, from the seed:
 * - a daily stand-up series (09:30–09:45 local, Monday to Friday), on about 60 % of calendars, some
 *   instances cancelled; its UTC time moves when the zone changes to or from summer time;
 * - a weekly 1:1 series (14:00–14:30 local on one weekday), with an organizer and attendees;
 * - 0–4 one-off events per weekday (rarely one at weekends): busy, tentative, free (transparent),
 *   private, cancelled, with unicode summaries, locations and attendees;
 * - an all-day event on about one day in twelve (out of office: busy; a reminder: free).
 */
import { dateOfDay, localParts, zonedToUtc } from '../lib/zoned-time.js';
import { mix, pick, seedHash } from './prng.js';

export type EventPerson = { email: string; name: string };
export type EventAttendee = EventPerson & { response: 'accepted' | 'tentative' | 'needsAction' | 'declined' };

export type SandboxEvent = {
  /** Unique in the calendar; a recurring instance is `<seriesId>_<start as YYYYMMDDTHHMMSSZ>`. */
  id: string;
  seriesId: string | null;
  summary: string;
  description: string | null;
  location: string | null;
  allDay: boolean;
  /** Instants; an all-day event runs from local midnight to local midnight in `timeZone`. */
  start: Date;
  end: Date;
  /** All-day events: their dates (end exclusive), YYYY-MM-DD. */
  startDate: string | null;
  endDate: string | null;
  timeZone: string;
  status: 'confirmed' | 'tentative' | 'cancelled';
  transparency: 'opaque' | 'transparent';
  private: boolean;
  outOfOffice: boolean;
  organizer: EventPerson;
  attendees: EventAttendee[];
  created: Date;
  updated: Date;
};

/** Zones the generated calendars live in: Europe and the US change to summer time on different days. */
export const EVENT_TIME_ZONES = [
  'Europe/London',
  'America/New_York',
  'Europe/Berlin',
  'America/Los_Angeles',
  'Asia/Tokyo',
] as const;

const SUMMARIES = [
  'Planning',
  'Design review',
  'Customer call',
  'Café ☕ catch-up',
  'Планирование спринта',
  '週次ミーティング',
  'Interview',
  'Budget review',
  'Lunch & learn 🍱',
  'Roadmap',
  'Incident retro',
  'Focus time',
] as const;
const LOCATIONS = ['Room 2.14', 'Zoom', 'Café Müller', 'HQ – Atrium', 'Teams', '東京オフィス'] as const;
const PEOPLE = [
  ['ana.silva', 'Ana Silva'],
  ['bjorn.larsen', 'Björn Larsen'],
  ['chen.wei', '陈伟'],
  ['dmitri.ivanov', 'Дмитрий Иванов'],
  ['emma.jones', 'Emma Jones'],
  ['fatima.khan', 'Fatima Khan'],
  ['jose.garcia', 'José García'],
  ['zoe.muller', 'Zoë Müller'],
] as const;
const RESPONSES = ['accepted', 'tentative', 'needsAction', 'declined'] as const;
const DURATIONS = [15, 30, 45, 60, 90, 120] as const;

/** One calendar's generator. */
export type SandboxCalendar = {
  key: string;
  timeZone: string;
  owner: EventPerson;
  /** The org's domain, for generated people. */
  domain: string;
  hash: number;
};

/** The events seed of one provider's org, from the sandbox state's (hashed) seed. */
export function eventSeed(stateSeed: number, provider: 'google' | 'microsoft'): number {
  return mix(stateSeed, provider === 'google' ? 1 : 2, 0xca1e);
}

/** The events seed of a sandbox started with the `seed` option `seed` (tests computing calendars). */
export function eventSeedOf(seed: string | number, provider: 'google' | 'microsoft'): number {
  return eventSeed(seedHash(seed), provider);
}

export function sandboxCalendar(
  seed: number,
  key: string,
  owner: { name: string; domain: string },
): SandboxCalendar {
  const k = key.toLowerCase();
  const hash = mix(seed, seedHash(k), 0xca1);
  return {
    key: k,
    timeZone: pick(EVENT_TIME_ZONES, mix(hash, 0, 1)),
    owner: { email: k, name: owner.name },
    domain: owner.domain,
    hash,
  };
}

/** Events overlapping [from, to), cancelled ones included, by start then id. */
export function calendarEvents(cal: SandboxCalendar, from: Date, to: Date): SandboxEvent[] {
  const out: SandboxEvent[] = [];
  if (!(to.getTime() > from.getTime())) {
    return out;
  }
  // Local days from one before to one after the window (offsets reach ±14 h).
  const first = Math.floor(from.getTime() / 86_400_000) - 1;
  const last = Math.floor((to.getTime() - 1) / 86_400_000) + 1;
  for (let day = first; day <= last; day++) {
    for (const e of eventsOfDay(cal, day)) {
      if (e.start.getTime() < to.getTime() && e.end.getTime() > from.getTime()) {
        out.push(e);
      }
    }
  }
  return out.sort((a, b) => a.start.getTime() - b.start.getTime() || (a.id < b.id ? -1 : 1));
}

/** 0 = Sunday … 6 = Saturday. */
function weekday(day: number): number {
  return (day + 4) % 7;
}

function person(cal: SandboxCalendar, h: number): EventPerson {
  const [local, name] = pick(PEOPLE, h);
  return { email: `${local}@${cal.domain}`, name };
}

function compact(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function base(
  cal: SandboxCalendar,
  h: number,
  fields: Pick<SandboxEvent, 'id' | 'seriesId' | 'summary' | 'start' | 'end'> & Partial<SandboxEvent>,
): SandboxEvent {
  const created = new Date(fields.start.getTime() - (7 + (h % 60)) * 86_400_000 - (h % 3600) * 1000);
  return {
    description: null,
    location: null,
    allDay: false,
    startDate: null,
    endDate: null,
    timeZone: cal.timeZone,
    status: 'confirmed',
    transparency: 'opaque',
    private: false,
    outOfOffice: false,
    organizer: cal.owner,
    attendees: [],
    created,
    updated: new Date(created.getTime() + ((h >>> 8) % 6) * 86_400_000),
    ...fields,
  };
}

function eventsOfDay(cal: SandboxCalendar, day: number): SandboxEvent[] {
  const out: SandboxEvent[] = [];
  const wd = weekday(day);
  const workday = wd >= 1 && wd <= 5;
  const at = (minutes: number) => zonedToUtc(day, minutes, cal.timeZone);
  const flags = mix(cal.hash, 0, 2);
  if (workday && flags % 10 < 6) {
    const seriesId = `sd${(cal.hash >>> 0).toString(16)}`;
    const start = at(9 * 60 + 30);
    const h = mix(cal.hash, day, 0x51);
    out.push(
      base(cal, h, {
        id: `${seriesId}_${compact(start)}`,
        seriesId,
        summary: 'Daily stand-up',
        start,
        end: at(9 * 60 + 45),
        location: 'Teams',
        status: h % 17 === 0 ? 'cancelled' : 'confirmed',
        created: new Date(Date.UTC(2025, 0, 6, 9, 0, 0)),
        updated: new Date(Date.UTC(2025, 0, 6, 9, 0, 0) + (h % 17 === 0 ? day * 3600_000 : 0)),
      }),
    );
  }
  if (workday && wd === 1 + ((flags >>> 4) % 5)) {
    const seriesId = `wk${(cal.hash >>> 0).toString(16)}`;
    const start = at(14 * 60);
    const h = mix(cal.hash, day, 0x52);
    const other = person(cal, flags >>> 8);
    out.push(
      base(cal, h, {
        id: `${seriesId}_${compact(start)}`,
        seriesId,
        summary: `1:1 ${other.name}`,
        start,
        end: at(14 * 60 + 30),
        organizer: other,
        attendees: [
          { ...other, response: 'accepted' },
          { ...cal.owner, response: pick(RESPONSES, h >>> 4) },
        ],
        created: new Date(Date.UTC(2025, 2, 3, 12, 0, 0)),
        updated: new Date(Date.UTC(2025, 2, 3, 12, 0, 0)),
      }),
    );
  }
  const countHash = mix(cal.hash, day, 0x10);
  const count = workday ? countHash % 5 : countHash % 6 === 0 ? 1 : 0;
  for (let j = 0; j < count; j++) {
    const h = mix(cal.hash, day * 8 + j, 0x20);
    const startMin = 8 * 60 + (h % 36) * 15;
    const duration = pick(DURATIONS, h >>> 8);
    const attendees = (h >>> 20) % 3 === 0;
    const guest = person(cal, h >>> 5);
    out.push(
      base(cal, h, {
        id: `ev${(cal.hash >>> 0).toString(16)}d${day}n${j}`,
        seriesId: null,
        summary: pick(SUMMARIES, h >>> 3),
        description: (h >>> 11) % 4 === 0 ? 'Agenda: status, risks — next steps ✅' : null,
        location: (h >>> 13) % 3 === 0 ? pick(LOCATIONS, h >>> 15) : null,
        start: at(startMin),
        end: at(startMin + duration),
        status: (h >>> 24) % 25 === 0 ? 'cancelled' : (h >>> 12) % 100 < 15 ? 'tentative' : 'confirmed',
        transparency: (h >>> 16) % 100 < 10 ? 'transparent' : 'opaque',
        private: (h >>> 22) % 10 === 0,
        ...(attendees
          ? {
              attendees: [
                { ...cal.owner, response: 'accepted' as const },
                { ...guest, response: pick(RESPONSES, h >>> 26) },
              ],
            }
          : {}),
      }),
    );
  }
  const allDay = mix(cal.hash, day, 0x30);
  if (allDay % 12 === 0) {
    const away = (allDay >>> 8) % 2 === 0;
    const startDate = dateOfDay(day);
    const endDate = dateOfDay(day + 1);
    out.push(
      base(cal, allDay, {
        id: `ad${(cal.hash >>> 0).toString(16)}d${day}`,
        seriesId: null,
        summary: away ? 'Out of office 🌴' : 'Reminder: expenses',
        allDay: true,
        start: at(0),
        end: zonedToUtc(day + 1, 0, cal.timeZone),
        startDate,
        endDate,
        transparency: away ? 'opaque' : 'transparent',
        outOfOffice: away,
      }),
    );
  }
  return out;
}

/** Whether an event occupies time: not cancelled, not transparent (free). */
export function isBusy(e: SandboxEvent): boolean {
  return e.status !== 'cancelled' && e.transparency === 'opaque';
}

/** Google freebusy: the busy events' intervals clipped to [from, to) and merged. */
export function mergedBusy(events: SandboxEvent[], from: Date, to: Date): { start: Date; end: Date }[] {
  const spans = events
    .filter(isBusy)
    .map((e) => ({
      start: Math.max(e.start.getTime(), from.getTime()),
      end: Math.min(e.end.getTime(), to.getTime()),
    }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const s of spans) {
    const prev = out[out.length - 1];
    if (prev && s.start <= prev.end) {
      prev.end = Math.max(prev.end, s.end);
    } else {
      out.push({ ...s });
    }
  }
  return out.map((s) => ({ start: new Date(s.start), end: new Date(s.end) }));
}

/** Graph's showAs of an event. */
export function showAs(e: SandboxEvent): 'free' | 'tentative' | 'busy' | 'oof' {
  if (e.transparency === 'transparent') {
    return 'free';
  }
  if (e.outOfOffice) {
    return 'oof';
  }
  return e.status === 'tentative' ? 'tentative' : 'busy';
}

/** The local wall-clock of an instant in the event's zone, as Graph's `dateTime` (no offset). */
export function wallClock(at: Date, tz: string): string {
  const p = localParts(at, tz);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}.0000000`;
}
