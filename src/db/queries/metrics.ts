import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { outboundDeliveries } from '../schema/outbound-deliveries.js';
import { profiles } from '../schema/profiles.js';
import { provisioningRuns } from '../schema/provisioning-runs.js';
import { serviceAccounts } from '../schema/service-accounts.js';

/**
 * Aggregates behind the Postgres-derived gauges of `GET /metrics`. Each is one grouped query; the
 * scrape runs them together and caches the result for a few seconds. Run item figures come from the
 * runs' own counters (kept exact in the same transactions as the items), so they cost one row per
 * run, not one per item.
 */
export type MetricsSnapshot = {
  profiles: { connected: boolean; reason: string; count: number }[];
  runs: {
    status: string;
    count: number;
    listed: number;
    provisioned: number;
    skipped: number;
    failed: number;
  }[];
  deliveries: { kind: string; status: string; count: number; attempts: number }[];
  serviceAccounts: { provider: string; status: string; count: number }[];
};

export async function metricsSnapshot(db: DbOrTx): Promise<MetricsSnapshot> {
  const [profileRows, runRows, deliveryRows, saRows] = await Promise.all([
    db
      .select({
        connected: profiles.connected,
        reason: sql<string>`coalesce(${profiles.disconnectReason}, '')`,
        count: sql<number>`count(*)::int`,
      })
      .from(profiles)
      .groupBy(profiles.connected, sql`2`),
    db
      .select({
        status: provisioningRuns.status,
        count: sql<number>`count(*)::int`,
        listed: sql<number>`coalesce(sum(${provisioningRuns.listed}), 0)::bigint`,
        provisioned: sql<number>`coalesce(sum(${provisioningRuns.provisioned}), 0)::bigint`,
        skipped: sql<number>`coalesce(sum(${provisioningRuns.skipped}), 0)::bigint`,
        failed: sql<number>`coalesce(sum(${provisioningRuns.failed}), 0)::bigint`,
      })
      .from(provisioningRuns)
      .groupBy(provisioningRuns.status),
    db
      .select({
        kind: outboundDeliveries.kind,
        status: outboundDeliveries.status,
        count: sql<number>`count(*)::int`,
        attempts: sql<number>`coalesce(sum(${outboundDeliveries.attempts}), 0)::bigint`,
      })
      .from(outboundDeliveries)
      .groupBy(outboundDeliveries.kind, outboundDeliveries.status),
    db
      .select({
        provider: serviceAccounts.provider,
        status: serviceAccounts.status,
        count: sql<number>`count(*)::int`,
      })
      .from(serviceAccounts)
      .groupBy(serviceAccounts.provider, serviceAccounts.status),
  ]);
  // bigint sums arrive as strings from postgres.js.
  const num = (v: unknown) => Number(v ?? 0);
  return {
    profiles: profileRows.map((r) => ({ connected: r.connected, reason: r.reason, count: num(r.count) })),
    runs: runRows.map((r) => ({
      status: r.status,
      count: num(r.count),
      listed: num(r.listed),
      provisioned: num(r.provisioned),
      skipped: num(r.skipped),
      failed: num(r.failed),
    })),
    deliveries: deliveryRows.map((r) => ({
      kind: r.kind,
      status: r.status,
      count: num(r.count),
      attempts: num(r.attempts),
    })),
    serviceAccounts: saRows.map((r) => ({ provider: r.provider, status: r.status, count: num(r.count) })),
  };
}
