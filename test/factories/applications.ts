import type { DbOrTx } from '../../src/db/client.js';
import { aadOf } from '../../src/db/queries/encrypted-columns.js';
import { applicationSecrets } from '../../src/db/schema/application-secrets.js';
import { type Application, applications } from '../../src/db/schema/applications.js';
import { hashToken, type Keyring, newOpaqueToken } from '../../src/lib/crypto.js';
import { newId } from '../../src/lib/ids.js';
import { seq } from './sequence.js';

export async function createApplication(
  db: DbOrTx,
  overrides: Partial<typeof applications.$inferInsert> = {},
): Promise<Application> {
  const [row] = await db
    .insert(applications)
    .values({
      id: newId('application'),
      name: `Application ${seq()}`,
      clientId: newOpaqueToken(24),
      redirectUris: ['https://app.example.com/callback'],
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}

/** Adds an active client secret to an Application; returns it in plain text (tests only). */
export async function createApplicationSecret(
  db: DbOrTx,
  keyring: Keyring,
  applicationId: string,
  overrides: Partial<typeof applicationSecrets.$inferInsert> = {},
): Promise<{ id: string; secret: string }> {
  const secret = newOpaqueToken(32);
  const id = newId('token');
  await db.insert(applicationSecrets).values({
    id,
    applicationId,
    secretHash: hashToken(secret),
    secretEncrypted: keyring.encrypt(secret, aadOf('application_secrets', overrides.id ?? id)),
    ...overrides,
  });
  return { id, secret };
}
