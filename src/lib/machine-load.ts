import { cpus } from 'node:os';

/** How often the machine's CPU times are read. */
const SAMPLE_MS = 1_000;

type Times = { busy: number; total: number };

function times(): Times {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

let last: Times | undefined;
let share = 0;
let timer: NodeJS.Timeout | undefined;

/**
 * The share of all of the machine's CPUs that were busy (any process) over the last second, from
 * 0 to 1; 0 until the first second has passed. Read by the first caller on, once a second, on a
 * timer that never keeps the process alive. The machine's CPUs, not a container's CPU quota.
 */
export function machineBusyShare(): number {
  if (!timer) {
    last = times();
    timer = setInterval(() => {
      const now = times();
      const total = now.total - (last?.total ?? 0);
      share = total > 0 ? Math.min(1, Math.max(0, (now.busy - (last?.busy ?? 0)) / total)) : share;
      last = now;
    }, SAMPLE_MS);
    timer.unref();
  }
  return share;
}

/**
 * Whether the machine is short of CPU, with hysteresis: true from `on` busy until it drops below
 * `off`, so a choice that saves CPU once made does not flip back and forth at the threshold.
 */
export function cpuShortage(on = 0.85, off = 0.7, read: () => number = machineBusyShare): () => boolean {
  let short = false;
  return () => {
    const busy = read();
    short = short ? busy >= off : busy >= on;
    return short;
  };
}
