import { type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import { columnAad } from '../../lib/crypto.js';
import type { DbOrTx } from '../client.js';

/**
 * Every column that holds AES-GCM ciphertext, for key rotation. A new encrypted column must be listed
 * here, or `ec keys rotate` would leave it under an old key (a unit test checks the schema for this).
 */
export const ENCRYPTED_COLUMNS = [
  { table: 'application_secrets', column: 'secret_encrypted' },
  { table: 'service_accounts', column: 'credentials_encrypted' },
  { table: 'outbound_deliveries', column: 'body_encrypted' },
] as const;

export type EncryptedColumn = (typeof ENCRYPTED_COLUMNS)[number];
export type EncryptedTable = EncryptedColumn['table'];

/**
 * The associated data binding a ciphertext to its place (lib/crypto.ts `columnAad`): the value of
 * `table`'s encrypted column in row `id`. Pass it to `keyring.encrypt` and `keyring.decrypt`.
 */
export function aadOf(table: EncryptedTable, id: string): string {
  const target = ENCRYPTED_COLUMNS.find((c) => c.table === table) as EncryptedColumn;
  return columnAad(target.table, target.column, id);
}

/**
 * True for ciphertexts that do not start with `currentPrefix` (keyring.currentPrefix: the format with
 * associated data under the primary key): older keys, and legacy values without associated data.
 * A prefix compare, as key ids may hold LIKE wildcards.
 */
const staleUnder = (column: SQLWrapper, currentPrefix: string): SQL =>
  sql`left(${column}, ${currentPrefix.length}) <> ${currentPrefix}`;

/**
 * Up to `limit` rows whose ciphertext does not start with `currentPrefix`, locked for update
 * (skipping rows another rotation holds), in id order after `afterId`.
 */
export async function lockStaleCiphertexts(
  tx: DbOrTx,
  target: EncryptedColumn,
  currentPrefix: string,
  afterId: string,
  limit: number,
): Promise<{ id: string; value: string }[]> {
  const table = sql.identifier(target.table);
  const column = sql.identifier(target.column);
  const rows = await tx.execute<{ id: string; value: string }>(sql`
    select id, ${column} as value from ${table}
    where ${staleUnder(column, currentPrefix)} and id > ${afterId}
    order by id limit ${limit} for update skip locked`);
  return [...rows];
}

export async function updateCiphertext(
  tx: DbOrTx,
  target: EncryptedColumn,
  id: string,
  value: string,
): Promise<void> {
  await tx.execute(
    sql`update ${sql.identifier(target.table)} set ${sql.identifier(target.column)} = ${value} where id = ${id}`,
  );
}

export async function countStaleCiphertexts(
  db: DbOrTx,
  target: EncryptedColumn,
  currentPrefix: string,
): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    select count(*)::int as n from ${sql.identifier(target.table)}
    where ${staleUnder(sql.identifier(target.column), currentPrefix)}`);
  return rows[0]?.n ?? 0;
}
