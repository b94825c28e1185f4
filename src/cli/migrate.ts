import type { Command } from 'commander';
import { runMigrations } from '../db/migrate.js';
import { cliConfig, writeOut } from './context.js';

/** `ec migrate`: apply `drizzle/` migrations; idempotent and safe to run concurrently. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations (idempotent; safe when two run at once)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      // Migrations need no secrets: demo mode lets them run without ENCRYPTION_KEYS.
      const config = cliConfig('demo');
      // The advisory lock is held across statements: behind PgBouncer (transaction mode) it needs a
      // direct connection, MIGRATE_DATABASE_URL.
      const result = await runMigrations(config.migrateDatabaseUrl);
      if (opts.json) {
        writeOut(JSON.stringify(result));
      } else if (result.applied === 0) {
        writeOut(`Database is up to date (${result.total} migrations applied).`);
      } else {
        writeOut(`Applied ${result.applied} migration(s); ${result.total} in total.`);
      }
    });
}
