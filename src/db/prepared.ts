import type { DbOrTx } from './client.js';

/**
 * A drizzle statement built once per database handle, then run with placeholders (`sql.placeholder`).
 * Building a query with drizzle's builder costs more CPU than Postgres spends on a primary-key lookup,
 * so the lookups every request makes (tokens, Applications, the Account's view) are built once. A
 * transaction is a handle of its own: inside one the statement is built for it.
 */
export function preparedFor<Q>(build: (db: DbOrTx) => Q): (db: DbOrTx) => Q {
  const built = new WeakMap<DbOrTx, Q>();
  return (db) => {
    let q = built.get(db);
    if (q === undefined) {
      q = build(db);
      built.set(db, q);
    }
    return q;
  };
}
