import type { QuotaConfig } from './config.js';
import type { Counters } from './counters.js';

/**
 * A sliding-window counter per key, approximated with two fixed windows (the previous one weighted
 * by how much of it still overlaps the window) — constant memory per key, stale keys purged.
 */
export class SlidingWindow {
  private readonly entries = new Map<string, { start: number; prev: number; curr: number }>();
  private lastPurge = 0;

  constructor(private readonly windowMs: number) {}

  /** Counts one request for `key`; undefined when admitted, else seconds until it would be. */
  take(key: string, limit: number, now: number): number | undefined {
    const w = this.windowMs;
    const start = Math.floor(now / w) * w;
    this.purge(start);
    let e = this.entries.get(key);
    if (!e) {
      e = { start, prev: 0, curr: 0 };
      this.entries.set(key, e);
    } else if (e.start !== start) {
      e.prev = e.start === start - w ? e.curr : 0;
      e.curr = 0;
      e.start = start;
    }
    const elapsed = now - start;
    const estimate = e.prev * (1 - elapsed / w) + e.curr;
    if (estimate + 1 <= limit) {
      e.curr += 1;
      return undefined;
    }
    // When the previous window's weight will have decayed enough, or else when this window ends.
    const needed = e.curr + 1 <= limit && e.prev > 0 ? w * (1 - (limit - e.curr - 1) / e.prev) : w;
    return Math.max(1, Math.ceil((needed - elapsed) / 1000));
  }

  private purge(start: number): void {
    if (start - this.lastPurge < this.windowMs) {
      return;
    }
    this.lastPurge = start;
    for (const [key, e] of this.entries) {
      if (e.start < start - this.windowMs) {
        this.entries.delete(key);
      }
    }
  }
}

const MINUTE = 60_000;

/** The providers' documented quotas (DESIGN §5, providers.md §2.5 and §4.5). */
export class Quotas {
  private readonly directory = new SlidingWindow(MINUTE);
  private readonly calendarUser = new SlidingWindow(MINUTE);
  private readonly calendarProject = new SlidingWindow(MINUTE);
  private readonly graphMailbox = new SlidingWindow(10 * MINUTE);
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly config: () => QuotaConfig,
    private readonly counters: Counters,
  ) {}

  /** Seconds to wait, or undefined when admitted; a refusal is counted as a quota violation. */
  directoryCall(now = Date.now()): number | undefined {
    const q = this.config();
    return q.enabled
      ? this.refused('google.directory', this.directory.take('project', q.directoryPerMinute, now))
      : undefined;
  }

  calendarCall(subject: string, now = Date.now()): number | undefined {
    const q = this.config();
    if (!q.enabled) {
      return undefined;
    }
    const user = this.calendarUser.take(subject, q.calendarPerUserPerMinute, now);
    if (user !== undefined) {
      return this.refused('google.calendar.user', user);
    }
    return this.refused(
      'google.calendar.project',
      this.calendarProject.take('project', q.calendarPerProjectPerMinute, now),
    );
  }

  graphMailboxCall(mailbox: string, now = Date.now()): number | undefined {
    const q = this.config();
    return q.enabled
      ? this.refused('microsoft.mailbox', this.graphMailbox.take(mailbox, q.graphPerMailboxPer10Min, now))
      : undefined;
  }

  /** A request to `mailbox` starts; false (counted) when it would exceed the concurrency limit. */
  enterMailbox(mailbox: string): boolean {
    const n = (this.inFlight.get(mailbox) ?? 0) + 1;
    this.inFlight.set(mailbox, n);
    this.counters.concurrency(mailbox, n);
    const q = this.config();
    if (q.enabled && n > q.graphConcurrentPerMailbox) {
      this.counters.quotaViolation('microsoft.mailboxConcurrency');
      return false;
    }
    return true;
  }

  leaveMailbox(mailbox: string): void {
    const n = (this.inFlight.get(mailbox) ?? 1) - 1;
    if (n <= 0) {
      this.inFlight.delete(mailbox);
    } else {
      this.inFlight.set(mailbox, n);
    }
  }

  private refused(quota: string, retryAfterSecs: number | undefined): number | undefined {
    if (retryAfterSecs !== undefined) {
      this.counters.quotaViolation(quota);
    }
    return retryAfterSecs;
  }
}
