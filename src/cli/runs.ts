import type { Command } from 'commander';
import { findRun, listRuns } from '../db/queries/runs.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { isId } from '../lib/ids.js';
import type { Runtime } from '../runtime.js';
import { recordRunAction } from '../services/audit.js';
import {
  cancelRun,
  createRun,
  describeRun,
  retryRun,
  runJson,
  runRequestSchema,
} from '../services/provisioning.js';
import { withRuntime, writeErr, writeOut } from './context.js';
import { reasonsTable, watchRun } from './run-progress.js';
import { addSelectionOptions, type SelectionOptions, selectionFromOptions } from './selection-options.js';
import { renderTable } from './table.js';

function requireRunId(id: string): string {
  if (!isId('run', id)) {
    throw new ValidationError(`"${id}" is not a provisioning run id (run_…)`);
  }
  return id;
}

async function loadRun(rt: Runtime, id: string) {
  const run = await findRun(rt.app.db, requireRunId(id));
  if (!run) {
    throw new NotFoundError('Provisioning run', id);
  }
  return run;
}

/** Prints a finished (or current) run: summary, then reasons. */
async function printRun(rt: Runtime, id: string, json: boolean): Promise<void> {
  const view = await describeRun(rt.app, await loadRun(rt, id));
  if (json) {
    writeOut(JSON.stringify(view));
    return;
  }
  const c = view.counts;
  writeOut(
    renderTable(
      [
        'run',
        'status',
        'listed',
        view.dry_run ? 'would provision' : 'provisioned',
        'skipped',
        'failed',
        'pending',
        'rate/s',
      ],
      [
        [
          view.id,
          view.status,
          String(c.listed),
          String(view.dry_run ? (c.would_provision ?? 0) : c.provisioned),
          String(c.skipped),
          String(c.failed),
          String(c.pending),
          String(view.rate_per_second),
        ],
      ],
    ),
  );
  writeOut('');
  writeOut(reasonsTable(view));
}

/** `ec onboard` and `ec runs …`: start and follow provisioning runs from the shell. */
export function registerRunCommands(program: Command): void {
  addSelectionOptions(program.command('onboard'))
    .description(
      "start a provisioning run: onboard a Service Account's whole directory, or the part the selection flags name",
    )
    .requiredOption('--service-account <id>', 'the Service Account (ser_…)')
    .option('--users', 'include users (default: users and rooms)')
    .option('--rooms', 'include rooms (default: users and rooms)')
    .option('--dry-run', 'list who would be provisioned, skipped or fail; change nothing')
    .option(
      '--verify <strategy>',
      'mailbox (check each mailbox) or directory (trust the directory)',
      'mailbox',
    )
    .option('--callback-url <url>', "where each Account's authorization callback is POSTed")
    .option('--scope <scope>', "scope of the Accounts' tokens", 'read_write')
    .option('--state <state>', 'echoed in every callback')
    .option('--watch', 'show live progress until the run ends, then a table of failure reasons')
    .option('--json', 'print the run as JSON')
    .action(
      async (
        opts: SelectionOptions & {
          serviceAccount: string;
          users?: boolean;
          rooms?: boolean;
          dryRun?: boolean;
          verify: string;
          callbackUrl?: string;
          scope: string;
          state?: string;
          watch?: boolean;
          json?: boolean;
        },
      ) => {
        if (!isId('serviceAccount', opts.serviceAccount)) {
          throw new ValidationError(`"${opts.serviceAccount}" is not a Service Account id (ser_…)`);
        }
        const include = [...(opts.users ? ['users'] : []), ...(opts.rooms ? ['rooms'] : [])];
        const parsed = runRequestSchema.safeParse({
          include: include.length > 0 ? include : undefined,
          callback_url: opts.callbackUrl,
          scope: opts.scope,
          state: opts.state,
          verify: opts.verify,
          dry_run: opts.dryRun ?? false,
          selection: await selectionFromOptions(opts),
        });
        if (!parsed.success) {
          throw new ValidationError(
            parsed.error.issues
              .map((i) => `--${String(i.path[0]).replace('_', '-')}: ${i.message}`)
              .join('; '),
          );
        }
        await withRuntime(async (rt) => {
          const sa = await findServiceAccount(rt.app.db, opts.serviceAccount);
          if (!sa || sa.status === 'revoked') {
            throw new NotFoundError('Service Account', opts.serviceAccount);
          }
          const run = await createRun(rt.app, sa, null, parsed.data);
          if (!opts.watch) {
            writeOut(
              opts.json
                ? JSON.stringify(runJson(run))
                : `Started ${run.id}. Follow it with: ec runs show ${run.id} --watch`,
            );
            return;
          }
          writeErr(
            `Started ${run.id} for ${sa.domain} (${sa.provider}); workers (\`ec worker\`) do the work.`,
          );
          const view = await watchRun(rt.app, run.id, { label: sa.domain });
          if (opts.json) {
            writeOut(JSON.stringify(view));
          } else {
            await printRun(rt, view.id, false);
          }
        });
      },
    );

  const runs = program.command('runs').description('provisioning runs: list, show, retry, cancel');

  runs
    .command('list')
    .description('recent runs')
    .option('--service-account <id>', "only this Service Account's runs")
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { serviceAccount?: string; limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new ValidationError('--limit must be a whole number from 1 to 1000');
      }
      await withRuntime(async (rt) => {
        const rows = await listRuns(rt.app.db, {
          ...(opts.serviceAccount ? { serviceAccountId: opts.serviceAccount } : {}),
          limit,
        });
        const views = rows.map((r) => runJson(r));
        if (opts.json) {
          writeOut(JSON.stringify(views));
          return;
        }
        if (views.length === 0) {
          writeOut('No provisioning runs yet. Start one with `ec onboard --service-account ser_… --watch`.');
          return;
        }
        writeOut(
          renderTable(
            ['run', 'service account', 'status', 'listed', 'provisioned', 'skipped', 'failed', 'started'],
            views.map((v) => [
              v.id,
              v.service_account_id,
              v.status,
              String(v.counts.listed),
              String(v.counts.provisioned || v.counts.would_provision || 0),
              String(v.counts.skipped),
              String(v.counts.failed),
              v.started_at ?? '-',
            ]),
          ),
        );
      });
    });

  runs
    .command('show <run>')
    .description('status, counts and failure reasons of a run')
    .option('--watch', 'follow it until it ends')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { watch?: boolean; json?: boolean }) => {
      await withRuntime(async (rt) => {
        if (opts.watch) {
          await watchRun(rt.app, (await loadRun(rt, id)).id);
        }
        await printRun(rt, id, opts.json ?? false);
      });
    });

  runs
    .command('retry <run>')
    .description('re-queue only the failed items of a run')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const run = await loadRun(rt, id);
        const result = await retryRun(rt.app, run);
        await recordRunAction(rt.app, run, 'run.retried', 'cli', { via: 'cli', ...result });
        writeOut(opts.json ? JSON.stringify(result) : `Re-queued ${result.requeued} failed item(s).`);
      });
    });

  runs
    .command('cancel <run>')
    .description('stop a run; Accounts already created stay')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const run = await loadRun(rt, id);
        const result = await cancelRun(rt.app, run);
        await recordRunAction(rt.app, run, 'run.cancelled', 'cli', { via: 'cli', ...result });
        writeOut(
          opts.json
            ? JSON.stringify(result)
            : `Cancelled; ${result.cancelled} pending item(s) will not be provisioned.`,
        );
      });
    });
}
