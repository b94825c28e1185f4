import cliProgress from 'cli-progress';
import { findRun } from '../db/queries/runs.js';
import type { AppContext } from '../services/context.js';
import { describeRun, type RunView } from '../services/provisioning.js';
import { renderTable } from './table.js';

const FINAL = new Set(['completed', 'completed_with_errors', 'cancelled', 'failed']);

export type WatchOptions = {
  /** Where the bar goes (stderr by default, so stdout stays clean for --json). */
  stream?: NodeJS.WriteStream;
  intervalMs?: number;
  /** Label shown before the bar, e.g. the organization. */
  label?: string;
  signal?: AbortSignal;
};

function summaryLine(v: RunView): string {
  const c = v.counts;
  const done = c.provisioned + (c.would_provision ?? 0) + c.skipped + c.failed;
  return `${v.status}: ${done}/${c.listed}${v.listing_complete ? '' : '+'} items, ${c.provisioned || c.would_provision || 0} ${v.dry_run ? 'would be provisioned' : 'provisioned'}, ${c.skipped} skipped, ${c.failed} failed, ${v.rate_per_second}/s`;
}

/** The final table of failure and skip reasons with counts. */
export function reasonsTable(v: RunView): string {
  const rows = [
    ...v.failures_by_reason.map((r) => ['failed', r.error_key, String(r.count)]),
    ...v.skipped_by_reason.map((r) => ['skipped', r.error_key, String(r.count)]),
  ];
  return rows.length === 0 ? 'No failures.' : renderTable(['status', 'reason', 'count'], rows);
}

/**
 * Follows a run until it ends: a live bar (items/s, ETA, failures so far) on a TTY, a line every
 * few seconds otherwise. Resolves with the final view.
 */
export async function watchRun(app: AppContext, runId: string, opts: WatchOptions = {}): Promise<RunView> {
  const stream = opts.stream ?? process.stderr;
  const interval = opts.intervalMs ?? 500;
  const tty = Boolean(stream.isTTY);
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream,
          format: `${opts.label ? `${opts.label} ` : ''}{bar} {percentage}% | {value}/{total} | {rate}/s | ETA {etaText} | failed {failed} | {status}`,
          hideCursor: true,
          clearOnComplete: false,
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let lastLine = 0;
  let view: RunView | undefined;
  bar?.start(1, 0, { rate: 0, etaText: '…', failed: 0, status: 'queued' });
  try {
    for (;;) {
      const run = await findRun(app.db, runId);
      if (!run) {
        throw new Error(`Run ${runId} not found`);
      }
      view = await describeRun(app, run);
      const c = view.counts;
      const done = c.provisioned + (c.would_provision ?? 0) + c.skipped + c.failed;
      if (bar) {
        bar.setTotal(Math.max(1, c.listed));
        bar.update(done, {
          rate: view.rate_per_second,
          etaText:
            view.eta_seconds === null ? (view.listing_complete ? '…' : 'listing') : `${view.eta_seconds}s`,
          failed: c.failed,
          status: view.status,
        });
      } else if (Date.now() - lastLine > 5000 || FINAL.has(view.status)) {
        stream.write(`${opts.label ? `${opts.label} ` : ''}${summaryLine(view)}\n`);
        lastLine = Date.now();
      }
      if (FINAL.has(view.status) || opts.signal?.aborted) {
        return view;
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    bar?.stop();
  }
}
