import { and, asc, eq, like, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { provisioningRuns } from '../schema/provisioning-runs.js';
import { runItems } from '../schema/run-items.js';
import { serviceAccounts } from '../schema/service-accounts.js';

/**
 * Failed run items across runs (or of one), searched by email and reason, keyset-paged in
 * (run_id, id) order through the partial index run_items_failed_idx, so page 1,000 costs what page 1
 * does.
 */

export type FailedItemRow = {
  id: string;
  runId: string;
  serviceAccountId: string;
  domain: string;
  email: string;
  kind: string;
  errorKey: string | null;
  errorDescription: string | null;
  attempts: number;
  updatedAt: Date;
};

export type FailedItemSearch = {
  runId?: string | undefined;
  /** A part of the email, any case. */
  email?: string | undefined;
  /** An exact reason code. */
  reason?: string | undefined;
  /** The last row of the previous page. */
  after?: { runId: string; id: string } | undefined;
  limit: number;
};

/** `%`, `_` and `\` in a search term match themselves. */
const likeEscaped = (term: string) => term.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function searchFailedItems(db: DbOrTx, q: FailedItemSearch): Promise<FailedItemRow[]> {
  return db
    .select({
      id: runItems.id,
      runId: runItems.runId,
      serviceAccountId: provisioningRuns.serviceAccountId,
      domain: serviceAccounts.domain,
      email: runItems.email,
      kind: runItems.kind,
      errorKey: runItems.errorKey,
      errorDescription: runItems.errorDescription,
      attempts: runItems.attempts,
      updatedAt: runItems.updatedAt,
    })
    .from(runItems)
    .innerJoin(provisioningRuns, eq(provisioningRuns.id, runItems.runId))
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, provisioningRuns.serviceAccountId))
    .where(
      and(
        eq(runItems.status, 'failed'),
        q.runId ? eq(runItems.runId, q.runId) : undefined,
        q.reason ? eq(runItems.errorKey, q.reason) : undefined,
        q.email ? like(runItems.emailLower, `%${likeEscaped(q.email.toLowerCase())}%`) : undefined,
        q.after ? sql`(${runItems.runId}, ${runItems.id}) > (${q.after.runId}, ${q.after.id})` : undefined,
      ),
    )
    .orderBy(asc(runItems.runId), asc(runItems.id))
    .limit(q.limit);
}
