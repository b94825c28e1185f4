import type { calendar_v3 } from 'googleapis/build/src/apis/calendar/v3.js';
import { storableText } from '../../lib/text.js';
import { type Mailbox, type MailboxCalendar, ProviderError } from '../types.js';

/** Rooms whose calendars one `freebusy.query` reads (Google accepts 50 calendars a request). */
export const ROOMS_PER_FREEBUSY = 50;

type FreeBusyCall = (items: { id: string }[]) => Promise<{ data: calendar_v3.Schema$FreeBusyResponse }>;

/**
 * Many rooms' calendars proved readable with one `freebusy.query` as the admin per 50 rooms, instead
 * of one `calendars.get` each: every room call otherwise counts against the admin's per-user quota
 * (600/min), which then binds the whole run. A room Google answers with a per-calendar error
 * (`notFound`: not a calendar the admin can see) fails alone; the others get their calendar, named as
 * the directory names the room. A failure of the call itself is thrown for the caller to apply to
 * every room of that call.
 */
export async function roomCalendarsByFreeBusy(
  rooms: Pick<Mailbox, 'email' | 'name'>[],
  query: FreeBusyCall,
): Promise<Map<string, MailboxCalendar[] | ProviderError>> {
  const out = new Map<string, MailboxCalendar[] | ProviderError>();
  for (let i = 0; i < rooms.length; i += ROOMS_PER_FREEBUSY) {
    const chunk = rooms.slice(i, i + ROOMS_PER_FREEBUSY);
    const res = await query(chunk.map((r) => ({ id: r.email })));
    const calendars = res.data.calendars ?? {};
    const byLower = new Map(Object.entries(calendars).map(([id, v]) => [id.toLowerCase(), v]));
    for (const room of chunk) {
      const answer = calendars[room.email] ?? byLower.get(room.email.toLowerCase());
      const error = answer?.errors?.[0];
      if (!answer || error) {
        out.set(
          room.email,
          new ProviderError(
            'google',
            'mailbox_not_enabled',
            `The room's calendar cannot be read as the admin (${error?.reason ?? 'not in the answer'})`,
            error?.reason ? { providerCode: error.reason } : {},
          ),
        );
        continue;
      }
      out.set(room.email, [
        {
          providerCalendarId: room.email,
          name: storableText(room.name) || room.email,
          readonly: true,
          primary: true,
        },
      ]);
    }
  }
  return out;
}
