import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { markFailed, markProvisioned } from '../../src/db/queries/run-items.js';
import { Keyring } from '../../src/lib/crypto.js';
import * as f from '../factories/index.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const [id, b64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id, key: Buffer.from(b64, 'base64') }]);

// A batch's item outcomes go as array parameters: whatever a provider put in an error description
// (quotes, backslashes, braces, commas, the word NULL, any script) must be stored exactly as given.
const AWKWARD = ['say "hi"', 'back\\slash \\"', '{a,b}', 'NULL', 'null', '', 'Grüße, 日本語 🚀', "it's, ok"];

describe('marking a batch of run items', () => {
  it('stores each failed item with its own reason and description, exactly', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const run = await f.createProvisioningRun(t.db, sa);
    const items = await Promise.all(AWKWARD.map(() => f.createRunItem(t.db, run.id)));
    const moved = await markFailed(
      t.db,
      items.map((item, i) => ({
        itemId: item.id,
        errorKey: `reason_${i}`,
        errorDescription: AWKWARD[i] ?? '',
      })),
    );
    expect(new Set(moved)).toEqual(new Set(items.map((i) => i.id)));
    const rows = await t.db.execute<{
      id: string;
      status: string;
      error_key: string;
      error_description: string;
    }>(sql`select id, status, error_key, error_description from run_items where run_id = ${run.id}`);
    const byId = new Map(rows.map((r) => [r.id, r]));
    items.forEach((item, i) => {
      expect(byId.get(item.id)).toMatchObject({
        status: 'failed',
        error_key: `reason_${i}`,
        error_description: AWKWARD[i],
      });
    });
    // Only pending items move: the same call again changes nothing.
    expect(
      await markFailed(t.db, [{ itemId: items[0]?.id ?? '', errorKey: 'again', errorDescription: 'again' }]),
    ).toEqual([]);
  });

  it('links each provisioned item to its own Account, and moves only pending items', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const run = await f.createProvisioningRun(t.db, sa);
    const pending = await Promise.all([1, 2, 3].map(() => f.createRunItem(t.db, run.id)));
    const skipped = await f.createRunItem(t.db, run.id, { status: 'skipped', errorKey: 'user_suspended' });
    const accounts = await Promise.all(pending.map(() => f.createAccount(t.db, sa)));
    const pairs = [...pending, skipped].map((item, i) => ({
      itemId: item.id,
      accountId: (accounts[i] ?? accounts[0])?.id ?? '',
    }));
    const moved = await markProvisioned(t.db, pairs);
    expect(new Set(moved)).toEqual(new Set(pending.map((i) => i.id)));
    const rows = await t.db.execute<{ id: string; status: string; account_id: string | null }>(
      sql`select id, status, account_id from run_items where run_id = ${run.id}`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    pending.forEach((item, i) => {
      expect(byId.get(item.id)).toMatchObject({ status: 'provisioned', account_id: accounts[i]?.id });
    });
    expect(byId.get(skipped.id)).toMatchObject({ status: 'skipped', account_id: null });
  });
});
