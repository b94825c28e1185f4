import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';

/** The tables whose rows a refused request must leave as they were. */
export const STORED_TABLES = [
  'applications',
  'application_secrets',
  'service_accounts',
  'accounts',
  'profiles',
  'calendars',
  'tokens',
  'authorization_codes',
  'authorization_requests',
  'channels',
  'provisioning_runs',
  'run_items',
  'directory_entries',
  'outbound_deliveries',
  'audit_events',
] as const;

/** Every stored row that matters, as a count and a digest per table (compare before and after). */
export async function storedDigest(
  db: Db,
  tables: readonly string[] = STORED_TABLES,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const rows = await db.execute<{ digest: string | null; n: number }>(
      sql.raw(
        `select md5(string_agg(x::text, ',' order by x::text)) as digest, count(*)::int as n from ${table} x`,
      ),
    );
    out[table] = `${rows[0]?.n}:${rows[0]?.digest}`;
  }
  return out;
}
