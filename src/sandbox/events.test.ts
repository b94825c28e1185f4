import { describe, expect, it } from 'vitest';
import { calendarEvents, eventSeedOf, mergedBusy, sandboxCalendar } from './events.js';

const seed = eventSeedOf(1, 'google');
const from = new Date('2027-03-22T00:00:00Z');
const to = new Date('2027-04-05T00:00:00Z');

describe('sandbox calendars', () => {
  it('are the same for the same seed and address, and differ between calendars', () => {
    const a = calendarEvents(
      sandboxCalendar(seed, 'ana@example.com', { name: 'Ana', domain: 'example.com' }),
      from,
      to,
    );
    const b = calendarEvents(
      sandboxCalendar(seed, 'ANA@example.com', { name: 'Ana', domain: 'example.com' }),
      from,
      to,
    );
    const c = calendarEvents(
      sandboxCalendar(seed, 'bo@example.com', { name: 'Bo', domain: 'example.com' }),
      from,
      to,
    );
    expect(a).toEqual(b);
    expect(a.map((e) => e.id)).not.toEqual(c.map((e) => e.id));
    expect(
      calendarEvents(
        sandboxCalendar(eventSeedOf(2, 'google'), 'ana@example.com', { name: 'Ana', domain: 'example.com' }),
        from,
        to,
      ).map((e) => e.id),
    ).not.toEqual(a.map((e) => e.id));
  });

  it('hold every kind of event, and a stand-up that keeps its local time across DST', () => {
    const all = [];
    for (let k = 0; k < 40; k++) {
      all.push(
        ...calendarEvents(
          sandboxCalendar(seed, `user${k}@example.com`, { name: 'U', domain: 'example.com' }),
          from,
          to,
        ),
      );
    }
    expect(all.some((e) => e.allDay)).toBe(true);
    expect(all.some((e) => e.status === 'tentative')).toBe(true);
    expect(all.some((e) => e.status === 'cancelled')).toBe(true);
    expect(all.some((e) => e.transparency === 'transparent')).toBe(true);
    expect(all.some((e) => e.private)).toBe(true);
    expect(all.some((e) => e.attendees.length > 0)).toBe(true);
    expect(all.some((e) => /[^\x20-\x7e]/.test(e.summary))).toBe(true);
    const london = all.filter((e) => e.summary === 'Daily stand-up' && e.timeZone === 'Europe/London');
    const hours = new Set(london.map((e) => e.start.toISOString().slice(11, 16)));
    expect(hours).toEqual(new Set(['09:30', '08:30']));
  });

  it('clips nothing but selects what overlaps, merges busy time, and costs only the window', () => {
    const cal = sandboxCalendar(seed, 'ana@example.com', { name: 'Ana', domain: 'example.com' });
    const events = calendarEvents(cal, from, to);
    expect(events.every((e) => e.start < to && e.end > from)).toBe(true);
    const busy = mergedBusy(events, from, to);
    for (let k = 1; k < busy.length; k++) {
      expect((busy[k]?.start.getTime() ?? 0) > (busy[k - 1]?.end.getTime() ?? 0)).toBe(true);
    }
    const started = performance.now();
    for (let k = 0; k < 1000; k++) {
      calendarEvents(
        sandboxCalendar(seed, `room${k}@example.com`, { name: 'R', domain: 'example.com' }),
        from,
        new Date(from.getTime() + 86_400_000),
      );
    }
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
