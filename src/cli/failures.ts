import type { Command } from 'commander';
import { countDeadDeliveries, deadDeliveries, runsWithFailures } from '../db/queries/admin.js';
import { reasonsOfRun } from '../db/queries/run-items.js';
import type { Runtime } from '../runtime.js';
import { retryDeadDeliveries, retryFailedItems } from '../services/operations.js';
import { withRuntime, writeOut } from './context.js';
import { auditCliRetries, type FailedItemsOptions, printFailedItems } from './failed-items.js';
import { renderTable } from './table.js';

export type FailuresReport = {
  dead_letters: {
    count: number;
    latest: {
      id: string;
      kind: string;
      url: string;
      attempts: number;
      last_status_code: number | null;
      last_error: string | null;
      dead_at: string | null;
      run_id: string | null;
    }[];
  };
  failed_items: {
    total: number;
    by_reason: { error_key: string; count: number }[];
    runs: { run_id: string; organization: string; status: string; failed: number }[];
  };
};

export async function failuresReport(rt: Runtime, limit = 20): Promise<FailuresReport> {
  const db = rt.app.db;
  const [deadCount, dead, runs] = await Promise.all([
    countDeadDeliveries(db),
    deadDeliveries(db, limit),
    runsWithFailures(db, 1_000),
  ]);
  const reasons = runs.flatMap((r) => reasonsOfRun(r.run.id, r.run.reasonCounts));
  const byReason = new Map<string, number>();
  for (const r of reasons.filter((x) => x.status === 'failed')) {
    byReason.set(r.errorKey, (byReason.get(r.errorKey) ?? 0) + r.count);
  }
  return {
    dead_letters: {
      count: deadCount,
      latest: dead.map((d) => ({
        id: d.id,
        kind: d.kind,
        url: d.url,
        attempts: d.attempts,
        last_status_code: d.lastStatusCode,
        last_error: d.lastError,
        dead_at: d.deadAt?.toISOString() ?? null,
        run_id: d.runId,
      })),
    },
    failed_items: {
      total: runs.reduce((n, r) => n + r.run.failed, 0),
      by_reason: [...byReason.entries()]
        .map(([error_key, count]) => ({ error_key, count }))
        .sort((a, b) => b.count - a.count),
      runs: runs.map((r) => ({
        run_id: r.run.id,
        organization: `${r.serviceAccount.provider} · ${r.serviceAccount.domain}`,
        status: r.run.status,
        failed: r.run.failed,
      })),
    },
  };
}

function printReport(r: FailuresReport): void {
  writeOut(`Dead-lettered deliveries: ${r.dead_letters.count}`);
  if (r.dead_letters.latest.length > 0) {
    writeOut(
      renderTable(
        ['delivery', 'kind', 'attempts', 'last error', 'dead at', 'url'],
        r.dead_letters.latest.map((d) => [
          d.id,
          d.kind,
          String(d.attempts),
          d.last_error ?? '',
          d.dead_at ?? '',
          d.url,
        ]),
      ),
    );
  }
  writeOut('');
  writeOut(`Failed run items: ${r.failed_items.total}`);
  if (r.failed_items.by_reason.length > 0) {
    writeOut(
      renderTable(
        ['reason', 'items'],
        r.failed_items.by_reason.map((x) => [x.error_key, String(x.count)]),
      ),
    );
    writeOut('');
    writeOut(
      renderTable(
        ['run', 'organization', 'status', 'failed'],
        r.failed_items.runs.map((x) => [x.run_id, x.organization, x.status, String(x.failed)]),
      ),
    );
  }
}

/** `ec failures [--retry] [--json]`: dead letters and failed run items by reason. */
export function registerFailuresCommand(program: Command): void {
  program
    .command('failures')
    .description('dead-lettered deliveries and failed run items by reason; --retry re-queues them all')
    .option('--retry', 'give every dead letter one more attempt and re-queue every failed run item')
    .option('--json', 'print JSON')
    .option(
      '--items',
      'list failed run items (100 a page; --run, --email, --reason, --cursor, --limit, --csv)',
    )
    .option('--run <run_id>', 'with --items: of one run')
    .option('--email <text>', 'with --items: whose email contains this (any case)')
    .option('--reason <code>', 'with --items: failed for this reason code')
    .option('--cursor <cursor>', 'with --items: the page after this cursor (printed under each page)')
    .option('--limit <n>', 'with --items: items per page (1–1000, default 100)')
    .option('--csv', 'with --items: every match as CSV (spreadsheet-safe)')
    .action(async (opts: { retry?: boolean; json?: boolean; items?: boolean } & FailedItemsOptions) => {
      await withRuntime(async (rt) => {
        if (opts.items) {
          await printFailedItems(rt, opts);
          return;
        }
        const report = await failuresReport(rt);
        if (!opts.retry) {
          if (opts.json) {
            writeOut(JSON.stringify(report));
          } else {
            printReport(report);
          }
          return;
        }
        const deliveries = await retryDeadDeliveries(rt.app);
        const runs = await retryFailedItems(rt.app);
        await auditCliRetries(rt.app, deliveries, runs);
        const items = runs.reduce((n, r) => n + r.requeued, 0);
        if (opts.json) {
          writeOut(JSON.stringify({ ...report, retried: { deliveries, items, runs } }));
          return;
        }
        printReport(report);
        writeOut('');
        writeOut(
          `Re-queued ${deliveries} dead-lettered deliveries and ${items} failed item(s) in ${runs.length} run(s).`,
        );
      });
    });
}
