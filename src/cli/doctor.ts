import type { Command } from 'commander';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { isId } from '../lib/ids.js';
import { diagnoseServiceAccount, formatDiagnostics } from '../services/diagnostics.js';
import { withRuntime, writeOut } from './context.js';

/**
 * `ec doctor --service-account ser_… [--mailbox EMAIL] [--json]` (pinned, DESIGN §3): tries every
 * permission the product needs, live; one line per check, ok or the provider's answer and the fix.
 * Exits 1 when any check failed (warnings and skipped checks do not count), 2 on bad arguments.
 * `--json` prints what `GET /v1/service_accounts/{id}/diagnostics` answers.
 */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      "try every permission a Service Account needs, live: one line each, ok or the provider's answer and the fix",
    )
    .requiredOption('--service-account <id>', 'the Service Account (ser_…)')
    .option('--mailbox <email>', 'the mailbox whose calendar to read (default: the first usable user listed)')
    .option('--json', 'print the API’s JSON ({"diagnostics": …})')
    .action(async (opts: { serviceAccount: string; mailbox?: string; json?: boolean }) => {
      if (!isId('serviceAccount', opts.serviceAccount)) {
        throw new ValidationError(`"${opts.serviceAccount}" is not a Service Account id (ser_…)`);
      }
      const diagnostics = await withRuntime(async (rt) => {
        const sa = await findServiceAccount(rt.app.db, opts.serviceAccount);
        if (!sa) {
          throw new NotFoundError('Service Account', opts.serviceAccount);
        }
        return diagnoseServiceAccount(rt.app, sa, { mailbox: opts.mailbox, deadlineMs: 120_000 });
      });
      writeOut(opts.json ? JSON.stringify({ diagnostics }) : formatDiagnostics(diagnostics));
      if (!diagnostics.ok) {
        process.exitCode = 1;
      }
    });
}
