/**
 * Postgres errors that say "this data can never be stored", as opposed to a conflict, a lost
 * connection or a deadlock that the same statement may survive next time: a data exception (class 22:
 * invalid text, a value out of range), a program limit (54000: e.g. a value too long for a btree
 * index entry) or a check constraint (23514). Retrying the same rows cannot help; a caller writing
 * a batch finds the bad row by writing the rows one by one.
 */
export function deterministicDbErrorCode(err: unknown): string | undefined {
  const code = postgresErrorCode(err);
  return code !== undefined && (code.startsWith('22') || code === '54000' || code === '23514')
    ? code
    : undefined;
}

/** The SQLSTATE of the Postgres error `err` is or wraps, if any. */
export function postgresErrorCode(err: unknown): string | undefined {
  // drizzle wraps driver errors (DrizzleQueryError) with the PostgresError as `cause`.
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === 'PostgresError' && typeof code === 'string') {
      return code;
    }
  }
  return undefined;
}

/** postgres.js's own connection errors, and the socket's. */
const LOST_CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
]);

/**
 * The database connection was lost (a restart, a failover, a pooler dropping it): the statement may
 * well succeed on a new connection a moment later. Postgres's own classes 08 (connection exception)
 * and 57P01–57P03 (shutting down, cannot connect now) count, as do postgres.js's connection errors.
 */
export function isConnectionLostError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (typeof code !== 'string') {
      continue;
    }
    if (name === 'PostgresError') {
      return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
    }
    if (LOST_CONNECTION_CODES.has(code)) {
      return true;
    }
  }
  return false;
}
