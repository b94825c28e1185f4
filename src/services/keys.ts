import type { Db } from '../db/client.js';
import { insertAuditEvent } from '../db/queries/audit-events.js';
import {
  aadOf,
  countStaleCiphertexts,
  ENCRYPTED_COLUMNS,
  lockStaleCiphertexts,
  updateCiphertext,
} from '../db/queries/encrypted-columns.js';
import type { Keyring } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';

export type RotationReport = { table: string; column: string; reencrypted: number; remaining: number }[];

/**
 * Re-encrypts every ciphertext that is not under the keyring's first key, or has no associated data
 * yet (written before values were bound to their row), in batches (one transaction
 * per batch, rows locked), so it can run while the service is up and resume if interrupted.
 * Afterwards old keys can be dropped from ENCRYPTION_KEYS.
 */
export async function rotateKeys(
  deps: { db: Db; keyring: Keyring },
  opts: { batchSize?: number; actor: string; onProgress?: (table: string, done: number) => void },
): Promise<RotationReport> {
  const batchSize = opts.batchSize ?? 500;
  const primary = deps.keyring.primaryKeyId;
  const current = deps.keyring.currentPrefix;
  const report: RotationReport = [];
  for (const target of ENCRYPTED_COLUMNS) {
    let done = 0;
    let afterId = '';
    for (;;) {
      const batch = await deps.db.transaction(async (tx) => {
        const rows = await lockStaleCiphertexts(tx, target, current, afterId, batchSize);
        for (const row of rows) {
          // A legacy value (no associated data) is bound to its row here.
          const aad = aadOf(target.table, row.id);
          await updateCiphertext(
            tx,
            target,
            row.id,
            deps.keyring.encrypt(deps.keyring.decrypt(row.value, aad), aad),
          );
        }
        return rows;
      });
      if (batch.length === 0) {
        break;
      }
      done += batch.length;
      afterId = batch[batch.length - 1]?.id ?? afterId;
      opts.onProgress?.(target.table, done);
    }
    const remaining = await countStaleCiphertexts(deps.db, target, current);
    report.push({ table: target.table, column: target.column, reencrypted: done, remaining });
  }
  await insertAuditEvent(deps.db, {
    id: newId('audit'),
    actor: opts.actor,
    action: 'keys.rotated',
    subjectType: 'keyring',
    subjectId: primary,
    data: { report },
  });
  return report;
}
