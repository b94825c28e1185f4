import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

/** Top-level `drizzle/`, both from src/db (tsx) and dist/db (built). */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Arbitrary constant: every `ec migrate` takes this advisory lock, so two at once run one after the other. */
const MIGRATION_LOCK_KEY = 7_310_452_001;

export type MigrationResult = { applied: number; total: number };

async function countApplied(sql: postgres.Sql): Promise<number> {
  const [exists] = await sql<
    { t: string | null }[]
  >`select to_regclass('drizzle.__drizzle_migrations')::text as t`;
  if (!exists?.t) {
    return 0;
  }
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
  return row?.n ?? 0;
}

/**
 * Applies pending migrations from `drizzle/`. Idempotent: a second run applies nothing. Safe when two
 * processes run it at once: a session advisory lock serialises them on one dedicated connection.
 */
export async function runMigrations(databaseUrl: string): Promise<MigrationResult> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      const before = await countApplied(sql);
      await migrate(drizzle({ client: sql }), { migrationsFolder: MIGRATIONS_FOLDER });
      const total = await countApplied(sql);
      return { applied: total - before, total };
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
