import { createCipheriv, randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { aadOf, countStaleCiphertexts, ENCRYPTED_COLUMNS } from '../../src/db/queries/encrypted-columns.js';
import { applicationSecrets } from '../../src/db/schema/application-secrets.js';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { serviceAccounts } from '../../src/db/schema/service-accounts.js';
import { DecryptionError, Keyring } from '../../src/lib/crypto.js';
import { createApplication, signingSecrets } from '../../src/services/applications.js';
import { rotateKeys } from '../../src/services/keys.js';
import { storedCredentials } from '../../src/services/service-accounts.js';
import * as f from '../factories/index.js';
import { useTestDatabase } from '../helpers/db.js';

// AES-GCM with associated data: each encrypted column value is bound to its table, column and row
// id, so a ciphertext copied into another row fails to decrypt (the swap attack: someone who can
// write the database but has no key moves one Application's secret, or a Service Account's
// credentials, under another's row). Values written before (v1, without associated data) still
// decrypt, and `ec keys rotate` binds them to their rows.
const t = useTestDatabase();
const k1 = { id: 'k1', key: Buffer.alloc(32, 9) };
const keyring = new Keyring([k1]);
const deps = {
  get db() {
    return t.db;
  },
  keyring,
};

/** A v1 ciphertext (no associated data), as stored before values were bound to their rows. */
function legacyV1(plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k1.key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', k1.id, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

async function twoOfEach() {
  const a = await createApplication(deps, { name: 'a', redirectUris: [], actor: 't' });
  const b = await createApplication(deps, { name: 'b', redirectUris: [], actor: 't' });
  const saA = await f.createServiceAccount(t.db, keyring, { applicationId: a.application.id });
  const saB = await f.createServiceAccount(t.db, keyring, { applicationId: b.application.id });
  const dA = await f.createOutboundDelivery(t.db, keyring, a.application.id, { body: { secret: 'a' } });
  const dB = await f.createOutboundDelivery(t.db, keyring, b.application.id, { body: { secret: 'b' } });
  return { a, b, saA, saB, dA, dB };
}

const row = {
  secret: async (applicationId: string) =>
    (
      await t.db.select().from(applicationSecrets).where(eq(applicationSecrets.applicationId, applicationId))
    )[0],
  sa: async (id: string) => (await t.db.select().from(serviceAccounts).where(eq(serviceAccounts.id, id)))[0],
  delivery: async (id: string) =>
    (await t.db.select().from(outboundDeliveries).where(eq(outboundDeliveries.id, id)))[0],
};

/** Copies A's ciphertexts over B's, as an attacker with write access to the database could. */
async function swap(x: Awaited<ReturnType<typeof twoOfEach>>) {
  const secretA = await row.secret(x.a.application.id);
  await t.db
    .update(applicationSecrets)
    .set({ secretEncrypted: secretA?.secretEncrypted ?? '' })
    .where(eq(applicationSecrets.applicationId, x.b.application.id));
  const saA = await row.sa(x.saA.id);
  await t.db
    .update(serviceAccounts)
    .set({ credentialsEncrypted: saA?.credentialsEncrypted ?? '' })
    .where(eq(serviceAccounts.id, x.saB.id));
  const dA = await row.delivery(x.dA.id);
  await t.db
    .update(outboundDeliveries)
    .set({ bodyEncrypted: dA?.bodyEncrypted ?? '' })
    .where(eq(outboundDeliveries.id, x.dB.id));
}

async function expectSwapRefused(x: Awaited<ReturnType<typeof twoOfEach>>) {
  await expect(signingSecrets(deps, x.b.application.id)).rejects.toThrow(DecryptionError);
  expect(await signingSecrets(deps, x.a.application.id)).toEqual([x.a.clientSecret]);
  const saB = await row.sa(x.saB.id);
  expect(() => storedCredentials({ keyring }, saB as NonNullable<typeof saB>)).toThrow(DecryptionError);
  const dB = await row.delivery(x.dB.id);
  expect(() => keyring.decrypt(dB?.bodyEncrypted ?? '', aadOf('outbound_deliveries', x.dB.id))).toThrow(
    DecryptionError,
  );
}

describe('encrypted columns bound to their rows', () => {
  it('new values are v2 with associated data; a ciphertext copied into another row fails to decrypt', async () => {
    const x = await twoOfEach();
    expect((await row.secret(x.a.application.id))?.secretEncrypted.startsWith('v2.k1.')).toBe(true);
    expect((await row.sa(x.saA.id))?.credentialsEncrypted.startsWith('v2.k1.')).toBe(true);
    expect((await row.delivery(x.dA.id))?.bodyEncrypted.startsWith('v2.k1.')).toBe(true);
    expect(
      storedCredentials(
        { keyring },
        (await row.sa(x.saB.id)) as NonNullable<Awaited<ReturnType<typeof row.sa>>>,
      ),
    ).toMatchObject({
      type: 'service_account',
    });
    await swap(x);
    await expectSwapRefused(x);
  });

  it('legacy v1 values still decrypt; ec keys rotate binds them to their rows; the swap then fails', async () => {
    await t.db.execute(sql`delete from outbound_deliveries`);
    await t.db.execute(sql`delete from service_accounts`);
    await t.db.execute(sql`delete from application_secrets`);
    const x = await twoOfEach();
    // Written as before this change: the same plaintexts as v1, without associated data.
    for (const app of [x.a, x.b]) {
      await t.db
        .update(applicationSecrets)
        .set({ secretEncrypted: legacyV1(app.clientSecret) })
        .where(eq(applicationSecrets.applicationId, app.application.id));
    }
    for (const sa of [x.saA, x.saB]) {
      await t.db
        .update(serviceAccounts)
        .set({ credentialsEncrypted: legacyV1(JSON.stringify({ type: 'service_account', id: sa.id })) })
        .where(eq(serviceAccounts.id, sa.id));
    }
    for (const d of [x.dA, x.dB]) {
      await t.db
        .update(outboundDeliveries)
        .set({ bodyEncrypted: legacyV1(JSON.stringify({ id: d.id })) })
        .where(eq(outboundDeliveries.id, d.id));
    }
    expect(await signingSecrets(deps, x.b.application.id)).toEqual([x.b.clientSecret]);
    expect(
      storedCredentials(
        { keyring },
        (await row.sa(x.saB.id)) as NonNullable<Awaited<ReturnType<typeof row.sa>>>,
      ),
    ).toEqual({
      type: 'service_account',
      id: x.saB.id,
    });
    for (const target of ENCRYPTED_COLUMNS) {
      expect(await countStaleCiphertexts(t.db, target, keyring.currentPrefix)).toBe(2);
    }

    // Same keyring: rotation re-encrypts only to bind the legacy values.
    const report = await rotateKeys(deps, { actor: 'test', batchSize: 1 });
    expect(report.map((r) => [r.table, r.reencrypted, r.remaining])).toEqual([
      ['application_secrets', 2, 0],
      ['service_accounts', 2, 0],
      ['outbound_deliveries', 2, 0],
    ]);
    expect((await row.sa(x.saA.id))?.credentialsEncrypted.startsWith('v2.k1.')).toBe(true);
    expect(await signingSecrets(deps, x.a.application.id)).toEqual([x.a.clientSecret]);
    expect(
      storedCredentials(
        { keyring },
        (await row.sa(x.saA.id)) as NonNullable<Awaited<ReturnType<typeof row.sa>>>,
      ),
    ).toEqual({
      type: 'service_account',
      id: x.saA.id,
    });
    expect(
      JSON.parse(
        keyring.decrypt(
          (await row.delivery(x.dA.id))?.bodyEncrypted ?? '',
          aadOf('outbound_deliveries', x.dA.id),
        ),
      ),
    ).toEqual({
      id: x.dA.id,
    });
    const again = await rotateKeys(deps, { actor: 'test' });
    expect(again.every((r) => r.reencrypted === 0 && r.remaining === 0)).toBe(true);

    await swap(x);
    await expectSwapRefused(x);
  });
});
