import { describe, expect, it } from 'vitest';
import { isProviderError } from '../types.js';
import { ROOMS_PER_FREEBUSY, roomCalendarsByFreeBusy } from './rooms.js';

describe('roomCalendarsByFreeBusy', () => {
  it('asks 50 rooms a call and fails only the rooms Google answers with an error', async () => {
    const rooms = Array.from({ length: 120 }, (_, i) => ({
      email: `Room-${i}@resource.calendar.google.com`,
      name: `Room ${i}`,
    }));
    const asked: number[] = [];
    const result = await roomCalendarsByFreeBusy(rooms, async (items) => {
      asked.push(items.length);
      return {
        data: {
          calendars: Object.fromEntries(
            items.map(({ id }) => [
              // Google may echo the id lower-cased.
              id === 'Room-7@resource.calendar.google.com' ? id.toLowerCase() : id,
              id.endsWith('3@resource.calendar.google.com')
                ? { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] }
                : { busy: [] },
            ]),
          ),
        },
      };
    });
    expect(asked).toEqual([ROOMS_PER_FREEBUSY, ROOMS_PER_FREEBUSY, 20]);
    expect(result.size).toBe(120);
    const refused = [...result.entries()].filter(([, v]) => isProviderError(v));
    expect(refused.map(([k]) => k)).toEqual(
      rooms.filter((r) => r.email.endsWith('3@resource.calendar.google.com')).map((r) => r.email),
    );
    for (const [, v] of refused) {
      expect(isProviderError(v) && v.reason).toBe('mailbox_not_enabled');
    }
    expect(result.get('Room-7@resource.calendar.google.com')).toEqual([
      {
        providerCalendarId: 'Room-7@resource.calendar.google.com',
        name: 'Room 7',
        readonly: true,
        primary: true,
      },
    ]);
  });

  it('throws when the call itself fails (the caller applies it to every room of the call)', async () => {
    await expect(
      roomCalendarsByFreeBusy([{ email: 'r@resource.calendar.google.com', name: 'R' }], async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });
});
