import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { aadOf } from '../../src/db/queries/encrypted-columns.js';
import { applicationSecrets } from '../../src/db/schema/application-secrets.js';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { serviceAccounts } from '../../src/db/schema/service-accounts.js';
import { Keyring } from '../../src/lib/crypto.js';
import { createApplication, signingSecrets } from '../../src/services/applications.js';
import { rotateKeys } from '../../src/services/keys.js';
import * as f from '../factories/index.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const oldKey = { id: 'old', key: Buffer.alloc(32, 1) };
const newKey = { id: 'new_1', key: Buffer.alloc(32, 2) };

describe('ec keys rotate', () => {
  it('re-encrypts every secret under the first key, in batches, and keeps every value', async () => {
    const before = new Keyring([oldKey]);
    const apps = [];
    for (let i = 0; i < 7; i++) {
      apps.push(
        await createApplication(
          { db: t.db, keyring: before },
          { name: `a${i}`, redirectUris: [], actor: 't' },
        ),
      );
    }
    const sa = await f.createServiceAccount(t.db, before, { applicationId: apps[0]?.application.id ?? '' });
    const delivery = await f.createOutboundDelivery(t.db, before, sa.applicationId, {
      body: { hello: 'world' },
    });

    const after = new Keyring([newKey, oldKey]);
    const report = await rotateKeys({ db: t.db, keyring: after }, { actor: 'test', batchSize: 3 });
    expect(report).toEqual([
      { table: 'application_secrets', column: 'secret_encrypted', reencrypted: 7, remaining: 0 },
      { table: 'service_accounts', column: 'credentials_encrypted', reencrypted: 1, remaining: 0 },
      { table: 'outbound_deliveries', column: 'body_encrypted', reencrypted: 1, remaining: 0 },
    ]);

    // The old key can now be dropped: everything decrypts with the new key alone.
    const onlyNew = new Keyring([newKey]);
    for (const app of apps) {
      expect(await signingSecrets({ db: t.db, keyring: onlyNew }, app.application.id)).toEqual([
        app.clientSecret,
      ]);
    }
    const [saRow] = await t.db.select().from(serviceAccounts).where(eq(serviceAccounts.id, sa.id));
    expect(
      JSON.parse(onlyNew.decrypt(saRow?.credentialsEncrypted ?? '', aadOf('service_accounts', sa.id))).type,
    ).toBe('service_account');
    const [dRow] = await t.db.select().from(outboundDeliveries).where(eq(outboundDeliveries.id, delivery.id));
    expect(
      JSON.parse(onlyNew.decrypt(dRow?.bodyEncrypted ?? '', aadOf('outbound_deliveries', delivery.id))),
    ).toEqual({ hello: 'world' });

    // A second rotation has nothing to do.
    const again = await rotateKeys({ db: t.db, keyring: after }, { actor: 'test' });
    expect(again.every((r) => r.reencrypted === 0 && r.remaining === 0)).toBe(true);
    const rows = await t.db.select().from(applicationSecrets);
    expect(rows.every((r) => Keyring.keyIdOf(r.secretEncrypted) === 'new_1')).toBe(true);
  });
});
