import { ValidationError } from '../errors.js';
import { hasUnstorableText } from '../lib/text.js';
import type { Runtime } from '../runtime.js';
import { recordActionOn } from '../services/audit.js';
import type { AppContext } from '../services/context.js';
import {
  type FailedItemsQuery,
  failedItemsCsv,
  failedItemsPage,
  failedItemsQuerySchema,
} from '../services/failed-items.js';
import { writeOut } from './context.js';
import { renderTable } from './table.js';

/**
 * `ec failures --items`: failed run items, searched by email and reason, a page at a time (the
 * next page's `--cursor` is printed), or every match as CSV (`--csv`, spreadsheet-safe).
 */
export type FailedItemsOptions = {
  run?: string;
  email?: string;
  reason?: string;
  cursor?: string;
  limit?: string;
  csv?: boolean;
  json?: boolean;
};

export function parseFailedItemsOptions(opts: FailedItemsOptions): FailedItemsQuery {
  const parsed = failedItemsQuerySchema.safeParse({
    run: opts.run,
    email: opts.email,
    reason: opts.reason,
    cursor: opts.cursor,
    limit: opts.limit,
  });
  if (!parsed.success) {
    const flag = (path: PropertyKey | undefined) => `--${String(path ?? 'items')}`;
    throw new ValidationError(parsed.error.issues.map((i) => `${flag(i.path[0])} ${i.message}`).join('; '));
  }
  for (const [name, value] of Object.entries(opts)) {
    if (typeof value === 'string' && hasUnstorableText(value)) {
      throw new ValidationError(`--${name} must not contain NUL characters or unpaired UTF-16 surrogates`);
    }
  }
  return parsed.data;
}

export async function printFailedItems(rt: Runtime, opts: FailedItemsOptions): Promise<void> {
  const q = parseFailedItemsOptions(opts);
  if (opts.csv) {
    for await (const chunk of failedItemsCsv(rt.app, q)) {
      process.stdout.write(chunk);
    }
    return;
  }
  const page = await failedItemsPage(rt.app, q);
  if (opts.json) {
    writeOut(
      JSON.stringify({
        items: page.items.map((i) => ({
          run_id: i.runId,
          service_account_id: i.serviceAccountId,
          domain: i.domain,
          email: i.email,
          kind: i.kind,
          error_key: i.errorKey,
          error_description: i.errorDescription,
          attempts: i.attempts,
          updated_at: i.updatedAt.toISOString(),
        })),
        next_cursor: page.nextCursor,
      }),
    );
    return;
  }
  if (page.items.length === 0) {
    writeOut('No failed items match.');
    return;
  }
  writeOut(
    renderTable(
      ['email', 'kind', 'reason', 'attempts', 'run', 'organization'],
      page.items.map((i) => [
        i.email,
        i.kind,
        i.errorKey ?? 'unknown',
        String(i.attempts),
        i.runId,
        i.domain,
      ]),
    ),
  );
  if (page.nextCursor) {
    writeOut(`More: add --cursor ${page.nextCursor}`);
  }
}

/** `ec failures --retry`, in the audit log: the dead letters re-sent and each run's items re-queued. */
export async function auditCliRetries(
  app: AppContext,
  deliveries: number,
  runs: { runId: string; requeued: number }[],
): Promise<void> {
  if (deliveries > 0) {
    await recordActionOn(app, 'cli', {
      action: 'deliveries.retried',
      subjectType: 'delivery',
      subjectId: 'all',
      data: { via: 'cli', count: deliveries },
    });
  }
  for (const r of runs) {
    await recordActionOn(app, 'cli', {
      action: 'run.retried',
      subjectType: 'provisioning_run',
      subjectId: r.runId,
      data: { via: 'cli', requeued: r.requeued },
    });
  }
}
