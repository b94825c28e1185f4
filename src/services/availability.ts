/**
 * Cronofy's availability question as a pure function: given each participant's busy time, when are
 * the required participants of every group free for `durationMs` inside the query periods? Times
 * are epoch milliseconds, intervals half-open `[start, end)`.
 *
 * - A member is free inside the query periods (and its own periods, when it has some) except where
 *   it is busy; a buffer widens every busy interval (`before` minutes must be free before a slot:
 *   a busy interval is extended by `bufferBeforeMs` after its end, and by `bufferAfterMs` before its
 *   start).
 * - A group is satisfied over an interval when at least `required` of its members (`all`: every
 *   one) are free throughout it.
 * - Periods: the maximal intervals over which every group is satisfied by members free throughout,
 *   each with those members; they may overlap when different members make them (room A 10:00–11:20,
 *   room B 10:40–12:00). Starts are moved up to the next multiple of `startIntervalMs`; periods
 *   shorter than the duration are dropped.
 * - Slots: `durationMs` long, starting every `startIntervalMs` (aligned to multiples of it), where
 *   every group is satisfied; each with the members free throughout.
 */

export type Interval = { start: number; end: number };

export type AvailabilityMember = { sub: string; busy: Interval[]; periods?: Interval[] | undefined };
export type AvailabilityGroup = { members: AvailabilityMember[]; required: 'all' | number };

export type AvailabilityQuery = {
  groups: AvailabilityGroup[];
  periods: Interval[];
  durationMs: number;
  bufferBeforeMs?: number;
  bufferAfterMs?: number;
  /** Slot starts (and period starts) on multiples of this. Default: none for periods, the duration for slots. */
  startIntervalMs?: number | undefined;
  /** Slots overlap (a start every interval) or follow one another. Default false. */
  overlappingSlots?: boolean;
  /** Results kept, each of periods and slots. Default 512. */
  maxResults?: number;
};

export type AvailableTime = { start: number; end: number; participants: string[] };

/** Sorted, merged, non-empty intervals. */
export function normalize(list: Interval[]): Interval[] {
  const sorted = list.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) {
      last.end = Math.max(last.end, i.end);
    } else {
      out.push({ ...i });
    }
  }
  return out;
}

/** `a` minus `b` (both normalized). */
export function subtract(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  let k = 0;
  for (const i of a) {
    let start = i.start;
    while (k < b.length && (b[k] as Interval).end <= start) {
      k++;
    }
    let j = k;
    while (j < b.length && (b[j] as Interval).start < i.end) {
      const cut = b[j] as Interval;
      if (cut.start > start) {
        out.push({ start, end: cut.start });
      }
      start = Math.max(start, cut.end);
      j++;
    }
    if (start < i.end) {
      out.push({ start, end: i.end });
    }
  }
  return out;
}

/** `a` ∩ `b` (both normalized). */
export function intersect(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Interval;
    const y = b[j] as Interval;
    const start = Math.max(x.start, y.start);
    const end = Math.min(x.end, y.end);
    if (end > start) {
      out.push({ start, end });
    }
    if (x.end < y.end) {
      i++;
    } else {
      j++;
    }
  }
  return out;
}

/** A member's free intervals within the query periods. */
export function freeTime(
  member: AvailabilityMember,
  periods: Interval[],
  bufferBeforeMs = 0,
  bufferAfterMs = 0,
): Interval[] {
  const within = member.periods ? intersect(periods, normalize(member.periods)) : periods;
  const busy = normalize(
    member.busy.map((b) => ({ start: b.start - bufferAfterMs, end: b.end + bufferBeforeMs })),
  );
  return subtract(within, busy);
}

/** Whether `free` (normalized) holds [start, end) in one interval. */
function holds(free: Interval[], start: number, end: number): boolean {
  let lo = 0;
  let hi = free.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = free[mid] as Interval;
    if (f.end <= start) {
      lo = mid + 1;
    } else if (f.start > start) {
      hi = mid - 1;
    } else {
      return f.end >= end;
    }
  }
  return false;
}

type Prepared = { sub: string; group: number; free: Interval[] };

function needed(group: AvailabilityGroup): number {
  return group.required === 'all' ? group.members.length : Math.min(group.required, group.members.length);
}

export function computeAvailability(q: AvailabilityQuery): {
  periods: AvailableTime[];
  slots: AvailableTime[];
} {
  const periods = normalize(q.periods);
  const members: Prepared[] = q.groups.flatMap((g, group) =>
    g.members.map((m) => ({
      sub: m.sub,
      group,
      free: freeTime(m, periods, q.bufferBeforeMs, q.bufferAfterMs),
    })),
  );
  const required = q.groups.map(needed);
  const max = q.maxResults ?? 512;
  return {
    periods: availablePeriods(members, required, periods, q.durationMs, q.startIntervalMs, max),
    slots: availableSlots(members, required, periods, q, max),
  };
}

function satisfied(free: Prepared[], required: number[]): boolean {
  const counts = required.map(() => 0);
  for (const m of free) {
    counts[m.group] = (counts[m.group] ?? 0) + 1;
  }
  return required.every((r, g) => (counts[g] ?? 0) >= r);
}

function availablePeriods(
  members: Prepared[],
  required: number[],
  periods: Interval[],
  durationMs: number,
  intervalMs: number | undefined,
  max: number,
): AvailableTime[] {
  const out: AvailableTime[] = [];
  for (const period of periods) {
    // Elementary segments: between consecutive boundaries of anyone's free time.
    const cuts = new Set<number>([period.start, period.end]);
    for (const m of members) {
      for (const f of m.free) {
        if (f.start > period.start && f.start < period.end) {
          cuts.add(f.start);
        }
        if (f.end > period.start && f.end < period.end) {
          cuts.add(f.end);
        }
      }
    }
    const points = [...cuts].sort((a, b) => a - b);
    const segs = points.length - 1;
    // reach[m][k]: the last segment of the free run of member m that covers segment k (-1: busy at k).
    const reach = members.map((m) => {
      const r = new Array<number>(segs).fill(-1);
      for (let k = segs - 1; k >= 0; k--) {
        if (holds(m.free, points[k] as number, points[k + 1] as number)) {
          r[k] = k + 1 < segs && r[k + 1] !== -1 ? (r[k + 1] as number) : k;
        }
      }
      return r;
    });
    const freeThroughout = (i: number, j: number) => members.filter((_, m) => (reach[m]?.[i] ?? -1) >= j);
    const valid = (i: number, j: number) => satisfied(freeThroughout(i, j), required);
    let i = 0;
    for (let j = 0; j < segs; j++) {
      while (i <= j && !valid(i, j)) {
        i++;
      }
      if (i <= j && (j === segs - 1 || !valid(i, j + 1))) {
        let start = points[i] as number;
        const end = points[j + 1] as number;
        if (intervalMs) {
          start = Math.ceil(start / intervalMs) * intervalMs;
        }
        if (end - start >= durationMs) {
          out.push({ start, end, participants: freeThroughout(i, j).map((m) => m.sub) });
          if (out.length >= max) {
            return out;
          }
        }
      }
    }
  }
  return out;
}

function availableSlots(
  members: Prepared[],
  required: number[],
  periods: Interval[],
  q: AvailabilityQuery,
  max: number,
): AvailableTime[] {
  const out: AvailableTime[] = [];
  const interval = q.startIntervalMs ?? q.durationMs;
  const step = q.overlappingSlots
    ? interval
    : Math.max(interval, Math.ceil(q.durationMs / interval) * interval);
  for (const period of periods) {
    for (let t = Math.ceil(period.start / interval) * interval; t + q.durationMs <= period.end; t += step) {
      const free = members.filter((m) => holds(m.free, t, t + q.durationMs));
      if (satisfied(free, required)) {
        out.push({ start: t, end: t + q.durationMs, participants: free.map((m) => m.sub) });
        if (out.length >= max) {
          return out;
        }
      }
    }
  }
  return out;
}
