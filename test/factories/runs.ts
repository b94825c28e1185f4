import type { DbOrTx } from '../../src/db/client.js';
import { type ProvisioningRun, provisioningRuns } from '../../src/db/schema/provisioning-runs.js';
import { type RunItem, runItems } from '../../src/db/schema/run-items.js';
import type { ServiceAccount } from '../../src/db/schema/service-accounts.js';
import { newId } from '../../src/lib/ids.js';
import { seq } from './sequence.js';

export async function createProvisioningRun(
  db: DbOrTx,
  serviceAccount: Pick<ServiceAccount, 'id' | 'applicationId'>,
  overrides: Partial<typeof provisioningRuns.$inferInsert> = {},
): Promise<ProvisioningRun> {
  const [row] = await db
    .insert(provisioningRuns)
    .values({
      id: newId('run'),
      applicationId: serviceAccount.applicationId,
      serviceAccountId: serviceAccount.id,
      include: ['users', 'rooms'],
      callbackUrl: 'https://app.example.com/callback',
      scope: 'read_write',
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}

export async function createRunItem(
  db: DbOrTx,
  runId: string,
  overrides: Partial<typeof runItems.$inferInsert> = {},
): Promise<RunItem> {
  const email = overrides.email ?? `item${seq()}@example.com`;
  const [row] = await db
    .insert(runItems)
    .values({
      id: newId('runItem'),
      runId,
      kind: 'user',
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
