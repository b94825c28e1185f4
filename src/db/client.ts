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

/**
 * Statements with at most this many parameters are prepared. Above it the text usually varies with a
 * batch's size (`in ($1, …, $n)`, multi-row `values`), and each variant would stay in every
 * connection's statement cache; those run unnamed, as before.
 */
const PREPARE_MAX_PARAMETERS = 16;

type Unsafe = (query: string, params?: unknown[], options?: { prepare?: boolean }) => unknown;

/**
 * The client drizzle is given. drizzle runs every query unnamed (`prepare: false`), and postgres.js
 * sends an unnamed query that has parameters as two round trips (Parse + Describe to learn the
 * parameter types, then Bind + Execute), so Postgres parses and plans it twice. Here postgres.js may
 * prepare it instead (its own setting decides: off behind a transaction pooler): once per connection,
 * then one round trip. Transactions and savepoints hand drizzle a client that does the same.
 */
function preparing<T extends object>(client: T): T {
  const c = client as unknown as {
    unsafe: Unsafe;
    begin?: (...a: unknown[]) => unknown;
    savepoint?: (...a: unknown[]) => unknown;
  };
  // Built once per client: drizzle reads `unsafe` for every query.
  const unsafe: Unsafe = (query, params, options) =>
    c.unsafe(
      query,
      params,
      options?.prepare === false && (params?.length ?? 0) <= PREPARE_MAX_PARAMETERS
        ? { ...options, prepare: true }
        : options,
    );
  const opening =
    (open: (...a: unknown[]) => unknown) =>
    (...args: unknown[]) =>
      open.apply(
        client,
        args.map((a) =>
          typeof a === 'function' ? (inner: object) => (a as (c: object) => unknown)(preparing(inner)) : a,
        ),
      );
  // Only what the client has (a transaction's client has `savepoint`, the pool's `begin`).
  const wrapped: Record<PropertyKey, unknown> = {
    unsafe,
    ...(typeof c.begin === 'function' ? { begin: opening(c.begin) } : {}),
    ...(typeof c.savepoint === 'function' ? { savepoint: opening(c.savepoint) } : {}),
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      return Object.hasOwn(wrapped, prop) ? wrapped[prop] : Reflect.get(target, prop, receiver);
    },
  });
}

export function createDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    prepare: opts.poolMode !== 'transaction',
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'enterprise-connect' },
  });
  const db = drizzle({ client: preparing(sql), schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
