import { describe, expect, it } from 'vitest';
import { formatInZone, formatUtc, isTimeZone, localDate, offsetMinutes, zonedToUtc } from './zoned-time.js';

describe('zoned time', () => {
  it('turns wall-clock times into instants on both sides of a summer-time change', () => {
    expect(zonedToUtc('2027-03-26', 9 * 60 + 30, 'Europe/London').toISOString()).toBe(
      '2027-03-26T09:30:00.000Z',
    );
    expect(zonedToUtc('2027-03-29', 9 * 60 + 30, 'Europe/London').toISOString()).toBe(
      '2027-03-29T08:30:00.000Z',
    );
    expect(zonedToUtc('2027-03-12', 9 * 60 + 30, 'America/New_York').toISOString()).toBe(
      '2027-03-12T14:30:00.000Z',
    );
    expect(zonedToUtc('2027-03-15', 9 * 60 + 30, 'America/New_York').toISOString()).toBe(
      '2027-03-15T13:30:00.000Z',
    );
    expect(zonedToUtc('2027-11-01', 0, 'Asia/Tokyo').toISOString()).toBe('2027-10-31T15:00:00.000Z');
  });

  it('moves a time inside a DST gap forward by the gap, and is stable in the repeated hour', () => {
    expect(zonedToUtc('2027-03-28', 90, 'Europe/London').toISOString()).toBe('2027-03-28T01:30:00.000Z');
    expect(zonedToUtc('2027-03-14', 150, 'America/New_York').toISOString()).toBe('2027-03-14T07:30:00.000Z');
    const a = zonedToUtc('2027-10-31', 90, 'Europe/London').getTime();
    expect([Date.parse('2027-10-31T00:30:00Z'), Date.parse('2027-10-31T01:30:00Z')]).toContain(a);
  });

  it('renders instants in a zone, and knows zones', () => {
    const at = new Date('2027-03-29T08:30:00Z');
    expect(formatInZone(at, 'Europe/London')).toBe('2027-03-29T09:30:00+01:00');
    expect(formatInZone(at, 'Asia/Kolkata')).toBe('2027-03-29T14:00:00+05:30');
    expect(formatInZone(at, 'Etc/UTC')).toBe('2027-03-29T08:30:00Z');
    expect(formatUtc(at)).toBe('2027-03-29T08:30:00Z');
    expect(offsetMinutes(at, 'America/Los_Angeles')).toBe(-420);
    expect(localDate(new Date('2027-03-28T23:30:00Z'), 'Europe/Berlin')).toBe('2027-03-29');
    expect(isTimeZone('Europe/London')).toBe(true);
    for (const bad of ['Mars/Olympus', '', 'Europe/London\u0000', '../etc', 'A'.repeat(100)]) {
      expect(isTimeZone(bad), bad).toBe(false);
    }
  });
});
