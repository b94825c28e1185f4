import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/db/migrate.js';
import * as schema from '../../src/db/schema/index.js';
import { useEmptyDatabase } from '../helpers/db.js';

// Starts from an empty database (not the template) to prove `ec migrate` from scratch.
const empty = useEmptyDatabase();
const url = () => empty.url;

describe('runMigrations', () => {
  it('applies everything once even when two run at the same time, then is a no-op', async () => {
    const [a, b] = await Promise.all([runMigrations(url()), runMigrations(url())]);
    expect(a.total).toBeGreaterThan(0);
    expect(a.total).toBe(b.total);
    expect(a.applied + b.applied).toBe(a.total);

    const again = await runMigrations(url());
    expect(again).toEqual({ applied: 0, total: a.total });

    const sql = postgres(url(), { max: 1 });
    const tables = await sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' order by 1`;
    await sql.end();
    // Exactly the tables the drizzle schema defines: the migrations and the schema agree.
    const defined = Object.values(schema as Record<string, unknown>)
      .filter((v): v is PgTable => is(v, PgTable))
      .map((table) => getTableName(table))
      .sort();
    expect(defined.length).toBeGreaterThan(15);
    expect(tables.map((t) => t.table_name)).toEqual(defined);
  });
});
