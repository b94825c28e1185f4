/**
 * What the sandbox's calendars hold, computed in the test from the sandbox's generator
 * (src/sandbox/events.ts) — independently of the adapters, services and routes under test — and
 * the next summer-time changes, so windows hold one whatever day the tests run.
 */
import { offsetMinutes, zonedToUtc } from '../../src/lib/zoned-time.js';
import {
  calendarEvents,
  eventSeedOf,
  mergedBusy,
  type SandboxEvent,
  sandboxCalendar,
  showAs,
} from '../../src/sandbox/events.js';

export type Provider = 'google' | 'microsoft';

/** The sandbox's test seed (useTestApp starts the sandbox with seed 1). */
export const TEST_SEED = 1;

export function generated(provider: Provider, email: string, domain: string, from: Date, to: Date) {
  const cal = sandboxCalendar(eventSeedOf(TEST_SEED, provider), email, { name: email, domain });
  return { cal, events: calendarEvents(cal, from, to) };
}

/** The first day (YYYY-MM-DD, in `tz`) from today on whose noon offset differs from the day before's. */
export function nextOffsetChange(tz: string, now = new Date()): string {
  const today = Math.floor(now.getTime() / 86_400_000);
  for (let d = today + 1; d < today + 400; d++) {
    const before = offsetMinutes(new Date((d - 1) * 86_400_000 + 12 * 3_600_000), tz);
    const after = offsetMinutes(new Date(d * 86_400_000 + 12 * 3_600_000), tz);
    if (before !== after) {
      return new Date(d * 86_400_000).toISOString().slice(0, 10);
    }
  }
  throw new Error(`no offset change in ${tz}`);
}

export function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** A window (dates, Europe/London) holding the next summer-time change of Europe and of the US. */
export function dstWindow(now = new Date()): { from: string; to: string; tzid: string } {
  const eu = nextOffsetChange('Europe/London', now);
  const us = nextOffsetChange('America/New_York', now);
  const [first, last] = [eu, us].sort() as [string, string];
  return { from: addDays(first, -3), to: addDays(last, 3), tzid: 'Europe/London' };
}

export function windowOf(w: { from: string; to: string; tzid: string }) {
  return { start: zonedToUtc(w.from, 0, w.tzid), end: zonedToUtc(w.to, 0, w.tzid) };
}

const utc = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

/** Cronofy free_busy entries the API should answer for one Calendar, sorted. */
export function expectedFreeBusy(provider: Provider, events: SandboxEvent[], from: Date, to: Date) {
  const clip = (s: Date, e: Date) => ({
    start: utc(new Date(Math.max(s.getTime(), from.getTime()))),
    end: utc(new Date(Math.min(e.getTime(), to.getTime()))),
  });
  const list =
    provider === 'google'
      ? mergedBusy(events, from, to).map((b) => ({ ...clip(b.start, b.end), free_busy_status: 'busy' }))
      : events
          .filter((e) => e.status !== 'cancelled' && showAs(e) !== 'free')
          .map((e) => ({
            ...clip(e.start, e.end),
            free_busy_status: showAs(e) === 'tentative' ? 'tentative' : 'busy',
          }));
  return sortEntries(list);
}

export function sortEntries<T extends { start: string; end: string }>(list: T[]): T[] {
  return [...list].sort((a, b) =>
    (a.start + a.end + JSON.stringify(a)).localeCompare(b.start + b.end + JSON.stringify(b)),
  );
}

/** The fields of Cronofy events the API should answer (include_deleted=false), sorted. */
export function expectedEvents(provider: Provider, events: SandboxEvent[]) {
  return sortEntries(
    events
      .filter((e) => e.status !== 'cancelled')
      .map((e) => ({
        summary: e.summary,
        start: e.allDay ? (e.startDate as string) : utc(e.start),
        end: e.allDay ? (e.endDate as string) : utc(e.end),
        status: provider === 'microsoft' && e.transparency === 'transparent' ? 'confirmed' : e.status,
        transparency: e.transparency,
        recurring: e.seriesId !== null,
        event_private: e.private,
      })),
  );
}
