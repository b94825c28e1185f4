import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER, runMigrations } from '../../src/db/migrate.js';
import { useEmptyDatabase } from '../helpers/db.js';

// Migration 0008 adds the reasons kept on the run row: runs stored before it must get theirs from
// their items, or a finished run's status would show no failures after the upgrade.
const empty = useEmptyDatabase();
const url = () => empty.url;
let folder = '';

beforeAll(async () => {
  // The migrations up to 0007 only: the schema as it was before 0008.
  folder = await mkdtemp(join(tmpdir(), 'ec-migrations-'));
  await cp(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: { tag: string }[] };
  const at = journal.entries.findIndex((e) => e.tag === '0008_run_reasons');
  expect(at).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, at);
  await writeFile(journalPath, JSON.stringify(journal));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('migration 0008 (reasons on the run row)', () => {
  it('fills each stored run with its skipped and failed items by reason', async () => {
    const sql = postgres(url(), { max: 1, onnotice: () => {} });
    try {
      await migrate(drizzle({ client: sql }), { migrationsFolder: folder });
      // Rows as an earlier version left them (their Application and Service Account do not matter here).
      await sql.begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`insert into provisioning_runs (id, application_id, service_account_id, include, scope, status)
          values ('run_a', 'app_x', 'ser_x', '{users}', 'read_only', 'completed_with_errors'),
                 ('run_b', 'app_x', 'ser_x', '{users}', 'read_only', 'completed')`;
        const items: [string, string | null][] = [
          ['skipped', 'user_suspended'],
          ['skipped', 'user_suspended'],
          ['skipped', 'mailbox_not_enabled'],
          ['failed', 'provider_unavailable'],
          ['failed', null],
          ['provisioned', null],
          ['pending', null],
        ];
        for (const [n, [status, errorKey]] of items.entries()) {
          await tx`insert into run_items (id, run_id, kind, email, email_lower, status, error_key)
            values (${`itm_${n}`}, 'run_a', 'user', ${`u${n}@x.test`}, ${`u${n}@x.test`}, ${status}, ${errorKey})`;
        }
        await tx`insert into run_items (id, run_id, kind, email, email_lower, status)
          values ('itm_b1', 'run_b', 'user', 'b@x.test', 'b@x.test', 'provisioned')`;
      });
      const result = await runMigrations(url());
      expect(result.applied).toBeGreaterThanOrEqual(1);
      const rows = await sql<{ id: string; reason_counts: Record<string, number> }[]>`
        select id, reason_counts from provisioning_runs order by id`;
      expect(rows).toEqual([
        {
          id: 'run_a',
          reason_counts: {
            'skipped:user_suspended': 2,
            'skipped:mailbox_not_enabled': 1,
            'failed:provider_unavailable': 1,
            'failed:unknown': 1,
          },
        },
        { id: 'run_b', reason_counts: {} },
      ]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
