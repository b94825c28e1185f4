import { type SQL, type SQLWrapper, sql } from 'drizzle-orm';
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

/** True for ciphertexts not written under `primaryKeyId` (prefix compare: key ids may hold LIKE wildcards). */
const staleUnder = (column: SQLWrapper, primaryKeyId: string): SQL => {
  const prefix = `v1.${primaryKeyId}.`;
  return sql`left(${column}, ${prefix.length}) <> ${prefix}`;
};

/**
 * Up to `limit` rows whose ciphertext is not under `primaryKeyId`, locked for update (skipping rows
 * another rotation holds), in id order after `afterId`.
 */
export async function lockStaleCiphertexts(
  tx: DbOrTx,
  target: EncryptedColumn,
  primaryKeyId: string,
  afterId: string,
  limit: number,
): Promise<{ id: string; value: string }[]> {
  const table = sql.identifier(target.table);
  const column = sql.identifier(target.column);
  const rows = await tx.execute<{ id: string; value: string }>(sql`
    select id, ${column} as value from ${table}
    where ${staleUnder(column, primaryKeyId)} and id > ${afterId}
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
  primaryKeyId: string,
): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    select count(*)::int as n from ${sql.identifier(target.table)}
    where ${staleUnder(sql.identifier(target.column), primaryKeyId)}`);
  return rows[0]?.n ?? 0;
}
