import type { DbOrTx } from '../../src/db/client.js';
import { aadOf } from '../../src/db/queries/encrypted-columns.js';
import { type ServiceAccount, serviceAccounts } from '../../src/db/schema/service-accounts.js';
import type { Keyring } from '../../src/lib/crypto.js';
import { newId } from '../../src/lib/ids.js';
import { createApplication } from './applications.js';
import { seq } from './sequence.js';

export async function createServiceAccount(
  db: DbOrTx,
  keyring: Keyring,
  overrides: Partial<typeof serviceAccounts.$inferInsert> = {},
): Promise<ServiceAccount> {
  const applicationId = overrides.applicationId ?? (await createApplication(db)).id;
  const n = seq();
  const id = overrides.id ?? newId('serviceAccount');
  const [row] = await db
    .insert(serviceAccounts)
    .values({
      id,
      applicationId,
      provider: 'google',
      domain: `org${n}.example.com`,
      adminEmail: `admin@org${n}.example.com`,
      providerClientId: `1000${n}`,
      credentialsEncrypted: keyring.encrypt(
        JSON.stringify({ type: 'service_account', private_key: 'test' }),
        aadOf('service_accounts', id),
      ),
      scope: 'service_account/accounts/manage service_account/resources/read',
      delegatedScope: 'read_write',
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}
