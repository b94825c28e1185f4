import type { Metrics } from 'bullmq';
import type { Command } from 'commander';
import { outboxCounts } from '../db/queries/deliveries.js';
import { QUEUE_NAMES, type QueueName } from '../jobs/catalog.js';
import { JobQueues } from '../jobs/queues.js';
import { QUEUE_STATES } from '../metrics/scrape.js';
import { withDeps, writeOut } from './context.js';
import { renderTable } from './table.js';

export type QueueReport = {
  queue: QueueName;
  counts: Record<(typeof QUEUE_STATES)[number], number>;
  /** Jobs finished per minute, averaged over the last 1, 5 and 15 minutes (BullMQ worker metrics). */
  completed_per_min: { m1: number; m5: number; m15: number };
  failed_per_min: { m1: number; m5: number; m15: number };
  paused: boolean;
};

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * Per-minute rates from BullMQ's worker metrics: `data` holds finished minutes (newest first) and
 * `count - prevCount` the jobs since the last one, i.e. the minute in progress.
 */
function rates(m: Metrics): { m1: number; m5: number; m15: number } {
  const current = Math.max(0, Number(m.meta.count) - Number(m.meta.prevCount || 0));
  const points = [current, ...m.data.map((d) => Number(d) || 0)];
  const avg = (n: number) => points.slice(0, n).reduce((a, b) => a + b, 0) / n;
  return { m1: round(avg(1)), m5: round(avg(5)), m15: round(avg(15)) };
}

export async function queueReport(queues: JobQueues): Promise<QueueReport[]> {
  return Promise.all(
    QUEUE_NAMES.map(async (name) => {
      const q = queues.queue(name);
      const [counts, completed, failed, paused] = await Promise.all([
        q.getJobCounts(...QUEUE_STATES),
        q.getMetrics('completed', 0, 14),
        q.getMetrics('failed', 0, 14),
        q.isPaused(),
      ]);
      return {
        queue: name,
        counts: Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as QueueReport['counts'],
        completed_per_min: rates(completed),
        failed_per_min: rates(failed),
        paused,
      };
    }),
  );
}

/** `ec queues`: jobs per queue and state, and how fast they complete or fail. */
export function registerQueuesCommand(program: Command): void {
  program
    .command('queues')
    .description('jobs per queue and state, with completed/failed per minute (1/5/15 min averages)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      // Redis and outbox counts only: no secret is decrypted, so ENCRYPTION_KEYS is not required ('demo' mode).
      const { report, outbox } = await withDeps(async (deps) => {
        const queues = new JobQueues(deps.redis(), deps.config.redis.queuePrefix);
        try {
          return { report: await queueReport(queues), outbox: await outboxCounts(deps.db) };
        } finally {
          await queues.close();
        }
      }, 'demo');
      if (opts.json) {
        writeOut(JSON.stringify({ queues: report, outbox }));
        return;
      }
      writeOut(
        renderTable(
          [
            'queue',
            'waiting',
            'prioritized',
            'active',
            'delayed',
            'failed',
            'completed',
            'done/min 1m 5m 15m',
            'failed/min 1m 5m 15m',
          ],
          report.map((r) => [
            r.paused ? `${r.queue} (paused)` : r.queue,
            String(r.counts.waiting),
            String(r.counts.prioritized),
            String(r.counts.active),
            String(r.counts.delayed),
            String(r.counts.failed),
            String(r.counts.completed),
            `${r.completed_per_min.m1} ${r.completed_per_min.m5} ${r.completed_per_min.m15}`,
            `${r.failed_per_min.m1} ${r.failed_per_min.m5} ${r.failed_per_min.m15}`,
          ]),
        ),
      );
      writeOut(
        `\noutbox (callbacks and notifications, in Postgres): ${outbox.due} due now, ${outbox.later} later (retries, in flight), ${outbox.dead} dead letters`,
      );
      writeOut(
        '"completed" counts only recent jobs (they are removed after 10 min); the rates come from the workers.',
      );
    });
}
