import type { calendar_v3 } from 'googleapis/build/src/apis/calendar/v3.js';
import { storableText } from '../../lib/text.js';
import type { MailboxCalendar } from '../types.js';

/** Access roles that let the subject write events. */
const WRITABLE_ROLES = new Set(['owner', 'writer']);

export function fromCalendarListEntry(c: calendar_v3.Schema$CalendarListEntry): MailboxCalendar | undefined {
  const id = storableText(c.id ?? '');
  if (!id || c.deleted) {
    return undefined;
  }
  return {
    providerCalendarId: id,
    name: storableText(c.summaryOverride || c.summary || '') || id,
    readonly: !WRITABLE_ROLES.has(c.accessRole ?? ''),
    primary: c.primary === true,
  };
}

/**
 * A room's calendar read through the admin (calendars.get has no access role). Rooms are booked by
 * inviting them, not by writing to their calendar, so it is reported read-only.
 */
export function fromRoomCalendar(c: calendar_v3.Schema$Calendar, email: string): MailboxCalendar {
  return {
    providerCalendarId: storableText(c.id ?? '') || email,
    name: storableText(c.summary ?? '') || email,
    readonly: true,
    primary: true,
  };
}

/** Primary first, then by name (stable for callers that store them). */
export function sortCalendars(list: MailboxCalendar[]): MailboxCalendar[] {
  return list.sort((a, b) => Number(b.primary) - Number(a.primary) || a.name.localeCompare(b.name));
}
