import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();

/** The plans of the operator lists' pages (with seq scans priced out, only a fitting index is used). */
async function plan(query: ReturnType<typeof sql>): Promise<string> {
  return t.db.transaction(async (tx) => {
    await tx.execute(sql`set local enable_seqscan = off`);
    const rows = await tx.execute<{ 'QUERY PLAN': string }>(sql`explain ${query}`);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

describe('indexes of the failure and audit lists', () => {
  it('pages failed items after a cursor through the partial index of failed items', async () => {
    const p = await plan(sql`select id from run_items where status = 'failed'
      and (run_id, id) > ('run_a', 'itm_a') order by run_id, id limit 101`);
    expect(p).toContain('run_items_failed_idx');
  });

  it("pages one Application's audit events newest first through audit_events_application_idx", async () => {
    const p = await plan(sql`select id from audit_events where application_id = 'app_a'
      and (created_at, id) < (now(), 'aud_a') order by created_at desc, id desc limit 101`);
    expect(p).toContain('audit_events_application_idx');
  });
});
