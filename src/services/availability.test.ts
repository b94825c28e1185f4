import { describe, expect, it } from 'vitest';
import {
  type AvailabilityMember,
  computeAvailability,
  freeTime,
  intersect,
  normalize,
  subtract,
} from './availability.js';

const H = 3_600_000;
const M = 60_000;
const day = Date.UTC(2027, 2, 29);
const at = (h: number, m = 0) => day + h * H + m * M;
const iv = (a: number, b: number) => ({ start: a, end: b });

describe('interval helpers', () => {
  it('normalizes, subtracts and intersects', () => {
    expect(normalize([iv(5, 7), iv(1, 3), iv(2, 4), iv(9, 9)])).toEqual([iv(1, 4), iv(5, 7)]);
    expect(subtract([iv(0, 10)], [iv(2, 3), iv(5, 12)])).toEqual([iv(0, 2), iv(3, 5)]);
    expect(subtract([iv(0, 4), iv(6, 10)], [iv(3, 7)])).toEqual([iv(0, 3), iv(7, 10)]);
    expect(intersect([iv(0, 5), iv(7, 10)], [iv(3, 8)])).toEqual([iv(3, 5), iv(7, 8)]);
  });

  it('widens busy time by the buffers', () => {
    const m: AvailabilityMember = { sub: 'a', busy: [iv(at(11), at(12))] };
    expect(freeTime(m, [iv(at(9), at(17))], 15 * M, 30 * M)).toEqual([
      iv(at(9), at(10, 30)),
      iv(at(12, 15), at(17)),
    ]);
  });
});

describe('computeAvailability', () => {
  const query = [iv(at(10), at(12))];

  it('intersects the free time of every member of a required:all group', () => {
    const r = computeAvailability({
      groups: [
        {
          required: 'all',
          members: [
            { sub: 'a', busy: [iv(at(10), at(10, 30))] },
            { sub: 'b', busy: [iv(at(11, 30), at(13))] },
          ],
        },
      ],
      periods: query,
      durationMs: 30 * M,
    });
    expect(r.periods).toEqual([{ start: at(10, 30), end: at(11, 30), participants: ['a', 'b'] }]);
    expect(r.slots.map((s) => s.start)).toEqual([at(10, 30), at(11)]);
  });

  it('required: 1 of rooms finds each room free long enough, never a gap stitched from two rooms', () => {
    const r = computeAvailability({
      groups: [
        {
          required: 1,
          members: [
            { sub: 'A', busy: [iv(at(11, 20), at(12))] },
            { sub: 'B', busy: [iv(at(10), at(10, 40))] },
          ],
        },
      ],
      periods: query,
      durationMs: 30 * M,
      startIntervalMs: 30 * M,
    });
    expect(r.periods).toEqual([
      { start: at(10), end: at(11, 20), participants: ['A'] },
      { start: at(11), end: at(12), participants: ['B'] },
    ]);
    expect(r.slots).toEqual([
      { start: at(10), end: at(10, 30), participants: ['A'] },
      { start: at(10, 30), end: at(11), participants: ['A'] },
      { start: at(11), end: at(11, 30), participants: ['B'] },
      { start: at(11, 30), end: at(12), participants: ['B'] },
    ]);
  });

  it('a short hand-over between two rooms is no period (nobody is free throughout)', () => {
    const r = computeAvailability({
      groups: [
        {
          required: 1,
          members: [
            { sub: 'A', busy: [iv(at(10, 20), at(12))] },
            { sub: 'B', busy: [iv(at(10), at(10, 15)), iv(at(10, 35), at(12))] },
          ],
        },
      ],
      periods: query,
      durationMs: 30 * M,
    });
    expect(r.periods).toEqual([]);
    expect(r.slots).toEqual([]);
  });

  it('required: N counts members; groups combine (a person and one of two rooms)', () => {
    const r = computeAvailability({
      groups: [
        { required: 'all', members: [{ sub: 'p', busy: [iv(at(10), at(11))] }] },
        {
          required: 1,
          members: [
            { sub: 'r1', busy: [iv(at(11), at(11, 30))] },
            { sub: 'r2', busy: [] },
          ],
        },
      ],
      periods: query,
      durationMs: 60 * M,
    });
    expect(r.periods).toEqual([{ start: at(11), end: at(12), participants: ['p', 'r2'] }]);
    const two = computeAvailability({
      groups: [
        {
          required: 2,
          members: [
            { sub: 'r1', busy: [iv(at(11), at(11, 30))] },
            { sub: 'r2', busy: [] },
            { sub: 'r3', busy: [iv(at(10), at(10, 30))] },
          ],
        },
      ],
      periods: query,
      durationMs: 60 * M,
    });
    expect(two.periods).toEqual([
      { start: at(10), end: at(11), participants: ['r1', 'r2'] },
      { start: at(10, 30), end: at(12), participants: ['r2', 'r3'] },
    ]);
  });

  it('honours member periods, buffers, start intervals and max results', () => {
    const r = computeAvailability({
      groups: [
        {
          required: 'all',
          members: [{ sub: 'a', busy: [iv(at(10, 50), at(11))], periods: [iv(at(10, 5), at(12))] }],
        },
      ],
      periods: query,
      durationMs: 20 * M,
      bufferBeforeMs: 10 * M,
      bufferAfterMs: 10 * M,
      startIntervalMs: 15 * M,
      overlappingSlots: true,
      maxResults: 3,
    });
    expect(r.periods).toEqual([
      { start: at(10, 15), end: at(10, 40), participants: ['a'] },
      { start: at(11, 15), end: at(12), participants: ['a'] },
    ]);
    expect(r.slots.map((s) => s.start)).toEqual([at(10, 15), at(11, 15), at(11, 30)]);
  });

  it('periods across several query periods and a busy time across their edge', () => {
    const r = computeAvailability({
      groups: [{ required: 'all', members: [{ sub: 'a', busy: [iv(at(11, 45), at(13, 15))] }] }],
      periods: [iv(at(10), at(12)), iv(at(13), at(14))],
      durationMs: 30 * M,
    });
    expect(r.periods).toEqual([
      { start: at(10), end: at(11, 45), participants: ['a'] },
      { start: at(13, 15), end: at(14), participants: ['a'] },
    ]);
  });
});
