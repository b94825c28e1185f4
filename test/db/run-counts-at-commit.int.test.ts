import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { addRunProviderCallsCheaply, providerCallsPerBucket } from '../../src/db/queries/run-charts.js';
import { addRunCountsAtCommit } from '../../src/db/queries/runs.js';
import { provisioningRuns } from '../../src/db/schema/provisioning-runs.js';
import { runItems } from '../../src/db/schema/run-items.js';
import { Keyring } from '../../src/lib/crypto.js';
import * as f from '../factories/index.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const [kid, kb64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id: kid, key: Buffer.from(kb64, 'base64') }]);

/** A transaction that writes a run item, then adds to the run's counts at its commit. */
async function batch(runId: string, provisioned: number) {
  let counted: { active: Promise<boolean> } | undefined;
  let itemId = '';
  await t.db.transaction(async (tx) => {
    itemId = (await f.createRunItem(tx, runId)).id;
    counted = addRunCountsAtCommit(tx, runId, { provisioned });
  });
  const active = await counted?.active;
  const kept = await t.db.select().from(runItems).where(eq(runItems.id, itemId));
  const [run] = await t.db.select().from(provisioningRuns).where(eq(provisioningRuns.id, runId));
  return { active, kept: kept.length === 1, provisioned: run?.provisioned };
}

describe('addRunCountsAtCommit', () => {
  it('adds to an active run in the same transaction as the rest, committed with it', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const run = await f.createProvisioningRun(t.db, sa, { status: 'provisioning' });
    expect(await batch(run.id, 3)).toEqual({ active: true, kept: true, provisioned: 3 });
    expect(await batch(run.id, 2)).toEqual({ active: true, kept: true, provisioned: 5 });
  });

  it('rolls the whole transaction back at its commit when the run is no longer active', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const run = await f.createProvisioningRun(t.db, sa, { status: 'cancelled' });
    expect(await batch(run.id, 3)).toEqual({ active: false, kept: false, provisioned: 0 });
  });

  it('holds the run row only inside the transaction: concurrent batches all count, exactly', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const run = await f.createProvisioningRun(t.db, sa, { status: 'provisioning' });
    const results = await Promise.all(Array.from({ length: 20 }, () => batch(run.id, 1)));
    expect(results.every((r) => r.active && r.kept)).toBe(true);
    const [after] = await t.db.select().from(provisioningRuns).where(eq(provisioningRuns.id, run.id));
    expect(after?.provisioned).toBe(20);
  });
});

describe('addRunProviderCallsCheaply (sent with its COMMIT)', () => {
  it('adds every concurrent step to the slot row, exactly', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const run = await f.createProvisioningRun(t.db, sa, { status: 'provisioning' });
    const at = new Date();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        addRunProviderCallsCheaply(t.db, run.id, at, new Map([['google.calendar', i + 1]])),
      ),
    );
    const rows = await providerCallsPerBucket(t.db, run.id, 60);
    expect(rows.reduce((n, r) => n + r.calls, 0)).toBe((20 * 21) / 2);
  });
});
