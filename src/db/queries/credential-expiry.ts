import { and, asc, gt, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { type ServiceAccount, serviceAccounts } from '../schema/service-accounts.js';

/** Service Accounts not revoked, in id order after `afterId` (a bounded page of the expiry sweep). */
export async function serviceAccountsPage(
  db: DbOrTx,
  afterId: string,
  limit: number,
): Promise<ServiceAccount[]> {
  return db
    .select()
    .from(serviceAccounts)
    .where(and(ne(serviceAccounts.status, 'revoked'), gt(serviceAccounts.id, afterId)))
    .orderBy(asc(serviceAccounts.id))
    .limit(limit);
}

/** Each Service Account (not revoked) with a known credential end date: the provider's, else the admin's. */
export async function credentialExpiries(db: DbOrTx): Promise<{ id: string; expiresAt: Date }[]> {
  const rows = await db
    .select({
      id: serviceAccounts.id,
      expiresAt: sql<
        Date | string
      >`coalesce(${serviceAccounts.providerCredentialExpiresAt}, ${serviceAccounts.credentialExpiresAt})`,
    })
    .from(serviceAccounts)
    .where(
      and(
        ne(serviceAccounts.status, 'revoked'),
        sql`coalesce(${serviceAccounts.providerCredentialExpiresAt}, ${serviceAccounts.credentialExpiresAt}) is not null`,
      ),
    );
  return rows.map((r) => ({ id: r.id, expiresAt: new Date(r.expiresAt) }));
}
