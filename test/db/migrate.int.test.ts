import { randomBytes } from 'node:crypto';
import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runMigrations } from '../../src/db/migrate.js';
import * as schema from '../../src/db/schema/index.js';

// Starts from an empty database (not the template) to prove `ec migrate` from scratch.
const name = `ec_t_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString('hex')}`;
const admin = () => postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
const url = () => {
  const u = new URL(inject('adminDatabaseUrl'));
  u.pathname = `/${name}`;
  return u.toString();
};

beforeAll(async () => {
  const sql = admin();
  await sql.unsafe(`create database "${name}"`);
  await sql.end();
});

afterAll(async () => {
  const sql = admin();
  await sql.unsafe(`drop database if exists "${name}" with (force)`);
  await sql.end();
});

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
