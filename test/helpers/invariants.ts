import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Db } from '../../src/db/client.js';

/**
 * What must hold for any run, whatever crashed: counts (and reasons) in the run row equal the items by status,
 * nothing pending at the end, one item per email, one Account per (Service Account, email), and
 * one stored callback per provisioned or failed item.
 */
export type RunFacts = Record<string, number> & { items: number; callbacks: number };

export async function expectRunConsistent(
  db: Db,
  runId: string,
  serviceAccountId: string,
): Promise<RunFacts> {
  const [run] = await db.execute<{
    listed: number;
    provisioned: number;
    skipped: number;
    failed: number;
    status: string;
  }>(sql`select listed, provisioned, skipped, failed, status from provisioning_runs where id = ${runId}`);
  const byStatus = Object.fromEntries(
    (
      await db.execute<{ status: string; n: number }>(
        sql`select status, count(*)::int as n from run_items where run_id = ${runId} group by status`,
      )
    ).map((r) => [r.status, r.n]),
  ) as Record<string, number>;
  const items = Object.values(byStatus).reduce((a, b) => a + b, 0);
  expect(run).toBeDefined();
  expect(run?.listed).toBe(items);
  expect(run?.provisioned ?? -1).toBe(byStatus.provisioned ?? 0);
  expect(run?.skipped ?? -1).toBe(byStatus.skipped ?? 0);
  expect(run?.failed ?? -1).toBe(byStatus.failed ?? 0);
  // The reasons kept on the run row are the skipped and failed items by reason.
  const [reasons] = await db.execute<{ kept: Record<string, number>; items: Record<string, number> }>(sql`
    select r.reason_counts as kept,
           coalesce((select jsonb_object_agg(k, n) from (
             select status || ':' || coalesce(error_key, 'unknown') as k, count(*)::int as n
               from run_items where run_id = ${runId} and status in ('skipped', 'failed') group by 1) g),
             '{}'::jsonb) as items
      from provisioning_runs r where r.id = ${runId}`);
  expect(reasons?.kept).toEqual(reasons?.items);
  const [dupItems] = await db.execute<{ n: number }>(
    sql`select count(*)::int as n from (select email_lower from run_items where run_id = ${runId} group by email_lower having count(*) > 1) d`,
  );
  expect(dupItems?.n).toBe(0);
  const [dupAccounts] = await db.execute<{ n: number }>(
    sql`select count(*)::int as n from (select email_lower from accounts where service_account_id = ${serviceAccountId} group by email_lower having count(*) > 1) d`,
  );
  expect(dupAccounts?.n).toBe(0);
  const [linked] = await db.execute<{ n: number }>(
    sql`select count(distinct account_id)::int as n from run_items where run_id = ${runId} and status = 'provisioned'`,
  );
  expect(linked?.n).toBe(byStatus.provisioned ?? 0);
  const [callbacks] = await db.execute<{ n: number }>(
    sql`select count(*)::int as n from outbound_deliveries where run_id = ${runId}`,
  );
  return { ...byStatus, items, callbacks: callbacks?.n ?? 0 };
}
