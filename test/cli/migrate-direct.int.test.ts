import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { runEc } from '../helpers/cli.js';
import { useEmptyDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/own-redis.js';

// `ec migrate` holds an advisory lock across statements, so behind PgBouncer (transaction mode) it
// must reach Postgres directly: MIGRATE_DATABASE_URL wins over DATABASE_URL.
const empty = useEmptyDatabase();
const { name } = empty;

describe('ec migrate with MIGRATE_DATABASE_URL', () => {
  it('migrates the direct URL while DATABASE_URL (a pooler) does not even answer', async () => {
    const deadPooler = `postgres://postgres@127.0.0.1:${await freePort()}/${name}`;
    const r = await runEc(['migrate', '--json'], {
      DATABASE_URL: deadPooler,
      MIGRATE_DATABASE_URL: empty.url,
      LOG_LEVEL: 'silent',
    });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { applied: number; total: number };
    expect(result.applied).toBe(result.total);
    expect(result.total).toBeGreaterThan(0);

    const sql = postgres(empty.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from information_schema.tables where table_name = 'accounts'`;
      expect(row?.n).toBe(1);
    } finally {
      await sql.end();
    }
  });

  it('refuses a MIGRATE_DATABASE_URL that is not a postgres:// URL, naming it', async () => {
    const r = await runEc(['migrate'], {
      MIGRATE_DATABASE_URL: 'mysql://db.example.com/x',
      LOG_LEVEL: 'silent',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MIGRATE_DATABASE_URL: must be a postgres:// URL');
  });
});
