import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

/**
 * `select <columns> from json_to_recordset($1)`: many rows as ONE parameter, for multi-row inserts
 * on hot paths. Building drizzle's `insert().values(rows)` costs about 25 µs of CPU per row (every
 * value is a parameter object); this costs one JSON.stringify. `columns` maps each snake_case column
 * to its SQL type; each row's keys are the column names (Dates become ISO strings).
 */
export function jsonRows(rows: Record<string, unknown>[], columns: Record<string, string>): SQL {
  const list = sql.raw(
    Object.keys(columns)
      .map((n) => `"${n}"`)
      .join(', '),
  );
  return sql`(${list}) select ${list} from ${jsonRecordset(rows, columns)}`;
}

/** `json_to_recordset($1) as r(<columns>)`: the rows as a relation `r`, for statements that join it. */
export function jsonRecordset(rows: Record<string, unknown>[], columns: Record<string, string>): SQL {
  const types = sql.raw(
    Object.entries(columns)
      .map(([n, type]) => `"${n}" ${type}`)
      .join(', '),
  );
  return sql`json_to_recordset(${JSON.stringify(rows)}::json) as r(${types})`;
}

/**
 * `jsonRows` for rows of a drizzle table in its own shape (camelCase keys, Dates): the columns are the
 * keys every row sets (a key no row sets keeps its column default), values mapped as drizzle maps
 * them. Undefined when the rows set different keys (drizzle would send DEFAULT for some of them):
 * callers then use drizzle's own insert.
 */
export function tableRows(table: PgTable, rows: Record<string, unknown>[]): SQL | undefined {
  const first = rows[0];
  if (!first) {
    return undefined;
  }
  const all = getTableColumns(table) as Record<string, PgColumn>;
  const keys = Object.keys(first).filter((k) => first[k] !== undefined && all[k]);
  if (rows.some((r) => Object.keys(r).filter((k) => r[k] !== undefined && all[k]).length !== keys.length)) {
    return undefined;
  }
  const columns: Record<string, string> = {};
  for (const k of keys) {
    const col = all[k] as PgColumn;
    columns[col.name] = col.getSQLType();
  }
  const mapped = rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const col = all[k] as PgColumn;
      const v = r[k];
      // json(b) values go into the JSON document as they are (drizzle's driver value is their text).
      const json = col.getSQLType().startsWith('json');
      out[col.name] = v === null || v === undefined ? null : json ? v : col.mapToDriverValue(v);
    }
    return out;
  });
  return jsonRows(mapped, columns);
}

/** Rows a raw `returning *` gave back, in the table's shape (as drizzle's own select maps them). */
export function asTableRows<T extends PgTable>(
  table: T,
  rows: readonly Record<string, unknown>[],
): T['$inferSelect'][] {
  const all = Object.entries(getTableColumns(table) as Record<string, PgColumn>);
  return rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const [k, col] of all) {
      const v = r[col.name];
      out[k] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
    }
    return out as T['$inferSelect'];
  });
}
