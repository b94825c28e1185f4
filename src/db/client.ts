import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.js';

export type Db = PostgresJsDatabase<typeof schema>;
/** A transaction handle; queries take `Db | Tx` first so a use-case can pass either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export type Database = {
  db: Db;
  sql: postgres.Sql;
  close: () => Promise<void>;
};

export type DatabaseOptions = {
  /** Pool size. Default 10 (enough for group commit under concurrent jobs). */
  max?: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
  /**
   * `transaction` when a pooler hands each transaction to any server connection (PgBouncer
   * `pool_mode = transaction`): prepared statements would be looked up on a connection that never
   * saw them, so none are used. Default `session`.
   */
  poolMode?: 'session' | 'transaction';
};

export function createDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    prepare: opts.poolMode !== 'transaction',
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'enterprise-connect' },
  });
  const db = drizzle({ client: sql, schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
