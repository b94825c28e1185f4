import { type SQL, sql } from 'drizzle-orm';

/**
 * `select <columns> from json_to_recordset($1)`: many rows as ONE parameter, for multi-row inserts
 * on hot paths. Building drizzle's `insert().values(rows)` costs about 25 µs of CPU per row (every
 * value is a parameter object); this costs one JSON.stringify. `columns` maps each snake_case column
 * to its SQL type; each row's keys are the column names (Dates become ISO strings).
 */
export function jsonRows(rows: Record<string, unknown>[], columns: Record<string, string>): SQL {
  const names = Object.keys(columns);
  const list = sql.raw(names.map((n) => `"${n}"`).join(', '));
  const types = sql.raw(names.map((n) => `"${n}" ${columns[n]}`).join(', '));
  return sql`(${list}) select ${list} from json_to_recordset(${JSON.stringify(rows)}::json) as r(${types})`;
}
