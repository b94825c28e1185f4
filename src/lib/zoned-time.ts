/**
 * Wall-clock time in IANA time zones, with nothing but `Intl`: the offset of a zone at an instant,
 * a local date and time to its instant (a time in a DST gap moves forward by the gap, as calendars
 * do; a time in the repeated hour always resolves to the same one of its two instants), and an
 * instant rendered in a zone. Used by the calendar read APIs and the sandbox's calendar generator.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    if (formatters.size > 500) {
      formatters.clear();
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `tz` is an IANA zone name this runtime knows (`Etc/UTC`, `Europe/London`, …). */
export function isTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(tz)) {
    return false;
  }
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export type LocalParts = {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
};

/** The wall-clock fields of `at` in `tz`. */
export function localParts(at: Date, tz: string): LocalParts {
  const out: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(at)) {
    if (p.type !== 'literal') {
      out[p.type] = Number(p.value);
    }
  }
  return {
    year: out.year ?? 1970,
    month: out.month ?? 1,
    day: out.day ?? 1,
    hour: out.hour ?? 0,
    minute: out.minute ?? 0,
    second: out.second ?? 0,
  };
}

/** Minutes `tz` is ahead of UTC at `at` (Europe/London in summer: 60). */
export function offsetMinutes(at: Date, tz: string): number {
  const p = localParts(at, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
}

/**
 * The instant of a wall-clock time in `tz`: `minutes` after local midnight of `date` (YYYY-MM-DD, or
 * a day number since 1970-01-01). A time inside a DST gap is moved forward by the gap.
 */
export function zonedToUtc(date: string | number, minutes: number, tz: string): Date {
  const dayMs = typeof date === 'number' ? date * 86_400_000 : Date.parse(`${date}T00:00:00Z`);
  const wall = dayMs + minutes * 60_000;
  // Two rounds find the offset in force at the result (the first guess may sit across a change).
  const first = offsetMinutes(new Date(wall), tz);
  let at = wall - first * 60_000;
  const second = offsetMinutes(new Date(at), tz);
  if (second !== first) {
    const retry = wall - second * 60_000;
    // In a gap neither offset round-trips: take the later instant (the time moved forward).
    at = offsetMinutes(new Date(retry), tz) === second ? Math.min(at, retry) : Math.max(at, retry);
  }
  return new Date(at);
}

/** The local calendar date of `at` in `tz`, YYYY-MM-DD. */
export function localDate(at: Date, tz: string): string {
  const p = localParts(at, tz);
  return `${String(p.year).padStart(4, '0')}-${pad(p.month)}-${pad(p.day)}`;
}

/** The day number (days since 1970-01-01) of a YYYY-MM-DD date. */
export function dayNumber(date: string): number {
  return Math.floor(Date.parse(`${date}T00:00:00Z`) / 86_400_000);
}

/** The YYYY-MM-DD date of a day number. */
export function dateOfDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** `at` as ISO 8601 with the offset of `tz`: `2027-03-29T09:30:00+01:00` (`Z` where it is UTC). */
export function formatInZone(at: Date, tz: string): string {
  const p = localParts(at, tz);
  const off = offsetMinutes(at, tz);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const zone = off === 0 ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return `${String(p.year).padStart(4, '0')}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${zone}`;
}

/** `at` in UTC without milliseconds: `2027-03-29T08:30:00Z` (Cronofy's time format). */
export function formatUtc(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
