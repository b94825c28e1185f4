import { describe, expect, it } from 'vitest';
import { fromCalendarListEntry, fromRoomCalendar } from './google/calendar.js';
import * as google from './google/directory.js';
import * as microsoft from './microsoft/directory.js';
import { ProviderError } from './types.js';

// A NUL or an unpaired surrogate in one directory entry would fail the whole batch that stores it
// (Postgres 22021): the adapters strip them where they map provider answers into our types.
const NUL = '\u0000';

describe('provider strings are made storable where the adapters map them', () => {
  it('Google users, rooms and calendars', () => {
    expect(
      google.toDirectoryUser({
        id: `1${NUL}`,
        primaryEmail: `ana${NUL}@example.com`,
        name: { fullName: `Ana${NUL} Lima\ud800` },
      }),
    ).toMatchObject({ providerId: '1', email: 'ana@example.com', name: 'Ana Lima' });
    expect(
      google.toDirectoryUser({ id: '2', primaryEmail: 'b@example.com', name: { fullName: NUL } })?.name,
    ).toBe('b@example.com');
    expect(
      google.toDirectoryRoom({
        resourceId: 'r1',
        resourceEmail: 'r1@resource.calendar.google.com',
        resourceName: `Board${NUL}room`,
        buildingId: `HQ${NUL}`,
        floorName: `\udc002`,
        resourceType: `Conference${NUL}`,
      }),
    ).toMatchObject({ name: 'Boardroom', building: 'HQ', floor: '2', resourceType: 'Conference' });
    expect(fromCalendarListEntry({ id: 'c1', summary: `Team${NUL}` })?.name).toBe('Team');
    expect(fromRoomCalendar({ id: 'c2', summary: `Room${NUL}` }, 'x@example.com').name).toBe('Room');
  });

  it('Microsoft users, rooms and calendars', () => {
    expect(
      microsoft.toDirectoryUser({
        id: `u${NUL}1`,
        displayName: `Bo${NUL}b`,
        mail: `bob${NUL}@example.com`,
        accountEnabled: true,
      }),
    ).toMatchObject({ providerId: 'u1', email: 'bob@example.com', name: 'Bob' });
    expect(
      microsoft.toDirectoryRoom({
        id: 'p1',
        emailAddress: `room${NUL}@example.com`,
        displayName: `Atrium\ud800`,
        building: `West${NUL}`,
        floorLabel: `3${NUL}`,
      }),
    ).toMatchObject({ email: 'room@example.com', name: 'Atrium', building: 'West', floor: '3' });
    expect(microsoft.toMailboxCalendar({ id: `c${NUL}`, name: `Cal${NUL}endar` })).toMatchObject({
      providerCalendarId: 'c',
      name: 'Calendar',
    });
  });

  it('provider error messages, which are stored as error descriptions', () => {
    expect(new ProviderError('google', 'user_not_found', `no such user a${NUL}b\ud800`).message).toBe(
      'no such user ab',
    );
  });
});
