import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../src/db/migrate.js';

/**
 * Migrates one template database per test run; every integration test file clones its own database
 * from it (test/helpers/db.ts), so files run in parallel without seeing each other's rows. Databases
 * left behind by a crashed run more than an hour ago are dropped here.
 */
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
    adminDatabaseUrl: string;
  }
}

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropStale(sql: postgres.Sql): Promise<void> {
  const cutoff = Math.floor(Date.now() / 1000) - 3600;
  const rows = await sql<{ datname: string }[]>`
    select datname from pg_database where datname ~ '^ec_(t|tpl)_[0-9]+_'`;
  for (const { datname } of rows) {
    const stamp = Number(datname.split('_')[2]);
    if (stamp < cutoff) {
      await sql.unsafe(`drop database if exists "${datname}" with (force)`);
    }
  }
}

export async function setup(project: TestProject) {
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  const name = `ec_tpl_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  try {
    await dropStale(sql);
    await sql.unsafe(`create database "${name}"`);
  } catch (err) {
    await sql.end();
    throw new Error(
      `Integration tests need Postgres at ${ADMIN_URL} (start it: see README "Running the tests"): ${String(err)}`,
    );
  }
  await runMigrations(databaseUrl(name));
  project.provide('templateDatabase', name);
  project.provide('adminDatabaseUrl', ADMIN_URL);
  return async () => {
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
    await sql.end();
  };
}
