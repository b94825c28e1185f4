import type { DbOrTx } from '../../src/db/client.js';
import { type Account, accounts } from '../../src/db/schema/accounts.js';
import type { ServiceAccount } from '../../src/db/schema/service-accounts.js';
import { newId } from '../../src/lib/ids.js';
import { seq } from './sequence.js';

export async function createAccount(
  db: DbOrTx,
  serviceAccount: Pick<ServiceAccount, 'id' | 'applicationId'>,
  overrides: Partial<typeof accounts.$inferInsert> = {},
): Promise<Account> {
  const email = overrides.email ?? `person${seq()}@example.com`;
  const [row] = await db
    .insert(accounts)
    .values({
      id: newId('account'),
      applicationId: serviceAccount.applicationId,
      serviceAccountId: serviceAccount.id,
      kind: 'user',
      name: 'A Person',
      scope: 'read_write',
      ...overrides,
      email,
      emailLower: overrides.emailLower ?? email.toLowerCase(),
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}
