import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptRecord } from '../db/queries/deliveries.js';
import { describeError } from '../errors.js';
import type { AppContext } from '../services/context.js';
import {
  claimAttempts,
  type ReadyAttempt,
  recordDeliveryAttempts,
  registerDirectSender,
  sendAttempt,
} from '../services/deliveries.js';

export type DeliveryPumpOptions = {
  /** Attempts in flight in this process at most. Default 1,024. */
  maxInFlight?: number;
  /**
   * Attempts in flight to one Application's receivers at most, so a slow or trickling receiver holds
   * only its own share of the slots. Default 512 (claimed 256 at a time): with 256, callbacks fell
   * behind a 950 Accounts/s run (0.96 of its rate, the last 1.4 s after it ended) while the receiver,
   * busy redeeming codes, answered slowly; with 512 they kept pace (1.02–1.03).
   */
  perApplication?: number;
  /** How often an idle pump looks for due deliveries. Default 200 ms. */
  pollMs?: number;
  /** Outcomes are written in batches: at most this long after the attempt. Default 50 ms. */
  flushMs?: number;
};

export type DeliveryPump = {
  close: () => Promise<void>;
  /** Attempts in flight now (for tests and metrics). */
  inFlight: () => number;
};

/**
 * Sends the outbox (`outbound_deliveries`): callbacks and notifications are stored in the same
 * transaction as the work they report, and every worker process runs one pump that claims due
 * deliveries by lease (fair across Applications), sends them over kept-alive connections and records
 * the outcomes in batches. Nothing is queued in Redis, so a crash between a commit and an enqueue,
 * or a Redis flush, cannot lose a callback: a committed delivery is due at once, and one whose worker
 * died mid-attempt is due again when its lease ends.
 */
export function startDeliveryPump(app: AppContext, opts: DeliveryPumpOptions = {}): DeliveryPump {
  const maxInFlight = opts.maxInFlight ?? 1024;
  const perApplication = Math.max(2, opts.perApplication ?? 512);
  const claimPerApplication = Math.floor(perApplication / 2);
  /** An Application with more than this in flight sits out a claim (one more would exceed its cap). */
  const eligibleAt = perApplication - claimPerApplication;
  const pollMs = opts.pollMs ?? 200;
  const flushMs = opts.flushMs ?? 50;
  const byApplication = new Map<string, number>();
  let inFlight = 0;
  let closed = false;
  let wake: (() => void) | undefined;
  /**
   * Set after a claim found nothing: new work can then only be an Application coming back under its
   * cap (or new rows, found by the next poll), so other attempts ending need not wake the loop.
   */
  let idle = false;
  const stop = new AbortController();

  const pending: AttemptRecord[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = (): Promise<void> => {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    const batch = pending.splice(0, pending.length);
    if (batch.length > 0) {
      flushing = flushing.then(() =>
        recordDeliveryAttempts(app, batch).catch((err) => {
          // Unrecorded attempts stay claimed until their lease ends, then are sent again (at least once).
          app.logger.warn({ err: describeError(err), attempts: batch.length }, 'recording deliveries failed');
        }),
      );
    }
    return flushing;
  };
  const record = (r: AttemptRecord) => {
    pending.push(r);
    if (pending.length >= 200) {
      void flush();
    } else if (!flushTimer) {
      flushTimer = setTimeout(() => void flush(), flushMs);
    }
  };

  /** Takes `n` places (attempts in flight) for this Application. */
  const take = (applicationId: string, n: number) => {
    inFlight += n;
    byApplication.set(applicationId, (byApplication.get(applicationId) ?? 0) + n);
  };
  /** Gives back `n` places of this Application; a waiting claim may then run. */
  const giveBack = (applicationId: string, n: number) => {
    inFlight -= n;
    const before = byApplication.get(applicationId) ?? n;
    const left = before - n;
    if (left > 0) {
      byApplication.set(applicationId, left);
    } else {
      byApplication.delete(applicationId);
    }
    if (!idle || (before > eligibleAt && left <= eligibleAt)) {
      wake?.();
    }
  };

  /** One attempt on a place already taken; the place is given back when it ends. */
  const send = async (a: ReadyAttempt) => {
    try {
      record(await sendAttempt(app, a));
    } catch (err) {
      app.logger.warn({ deliveryId: a.id, err: describeError(err) }, 'delivery attempt failed');
    } finally {
      giveBack(a.applicationId, 1);
    }
  };

  // First attempts of deliveries this process commits (a provisioning batch) are sent from here at
  // once, within the same caps as claimed ones (storeDeliveriesSentHere): no claim round trip.
  const unregister = registerDirectSender(app, {
    reserve: (applicationId, n) => {
      const room = Math.min(
        n,
        maxInFlight - inFlight,
        perApplication - (byApplication.get(applicationId) ?? 0),
      );
      const k = closed ? 0 : Math.max(0, room);
      if (k > 0) {
        take(applicationId, k);
      }
      return k;
    },
    release: (applicationId, n) => giveBack(applicationId, n),
    send: (attempts) => {
      for (const a of attempts) {
        void send(a);
      }
    },
  });

  /** Resolves when an attempt ends, `ms` pass, or the pump closes. */
  const waitFor = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      }
      wake = done;
      stop.signal.addEventListener('abort', done);
    });

  const loop = (async () => {
    while (!closed) {
      const room = maxInFlight - inFlight;
      if (room < Math.min(claimPerApplication, maxInFlight)) {
        await waitFor(pollMs);
        continue;
      }
      const exclude = [...byApplication].filter(([, n]) => n > eligibleAt);
      let ready: ReadyAttempt[];
      try {
        ready = await claimAttempts(app, {
          limit: room,
          perApplication: claimPerApplication,
          exclude: exclude.map(([id]) => id),
        });
      } catch (err) {
        app.logger.warn({ err: describeError(err) }, 'claiming deliveries failed; retrying');
        await sleep(1_000, undefined, { signal: stop.signal }).catch(() => {});
        continue;
      }
      for (const a of ready) {
        take(a.applicationId, 1);
        void send(a);
      }
      if (ready.length === 0) {
        idle = true;
        await waitFor(pollMs);
        idle = false;
      }
    }
  })();

  return {
    inFlight: () => inFlight,
    close: async () => {
      closed = true;
      unregister();
      stop.abort();
      await loop;
      // Let attempts in flight finish (each has a total deadline), then write their outcomes.
      while (inFlight > 0) {
        await sleep(20);
      }
      await flush();
    },
  };
}
