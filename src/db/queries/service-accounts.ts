import { and, desc, eq, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { preparedFor } from '../prepared.js';
import { accounts } from '../schema/accounts.js';
import { profiles } from '../schema/profiles.js';
import { type ServiceAccount, serviceAccounts } from '../schema/service-accounts.js';

export type NewServiceAccount = typeof serviceAccounts.$inferInsert;

export async function insertServiceAccount(db: DbOrTx, row: NewServiceAccount): Promise<ServiceAccount> {
  const [created] = await db.insert(serviceAccounts).values(row).returning();
  if (!created) {
    throw new Error('insert into service_accounts returned nothing');
  }
  return created;
}

const serviceAccountById = preparedFor((db) =>
  db
    .select()
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, sql.placeholder('id')))
    .prepare('find_service_account'),
);

export async function findServiceAccount(db: DbOrTx, id: string): Promise<ServiceAccount | undefined> {
  const [row] = await serviceAccountById(db).execute({ id });
  return row;
}

/**
 * The Service Account's status, its row share-locked until the transaction ends: work that must not
 * outlive a revocation (a batch creating Accounts and callbacks) takes this first, so it either
 * commits before the revocation or sees it.
 */
export async function lockServiceAccountStatus(
  tx: DbOrTx,
  id: string,
): Promise<ServiceAccount['status'] | undefined> {
  const [row] = await tx
    .select({ status: serviceAccounts.status })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, id))
    .for('share');
  return row?.status;
}

export type ServiceAccountCounts = { accounts: number; connected: number; disconnected: number };

export async function countServiceAccountProfiles(db: DbOrTx, id: string): Promise<ServiceAccountCounts> {
  const [row] = await db
    .select({
      accounts: sql<number>`count(*)::int`,
      connected: sql<number>`count(*) filter (where ${profiles.connected})::int`,
      disconnected: sql<number>`count(*) filter (where not ${profiles.connected})::int`,
    })
    .from(accounts)
    .innerJoin(profiles, eq(profiles.accountId, accounts.id))
    .where(and(eq(accounts.serviceAccountId, id), eq(accounts.status, 'active')));
  return row ?? { accounts: 0, connected: 0, disconnected: 0 };
}

export async function updateServiceAccount(
  db: DbOrTx,
  id: string,
  patch: Partial<Omit<NewServiceAccount, 'id' | 'applicationId'>>,
): Promise<void> {
  await db.update(serviceAccounts).set(patch).where(eq(serviceAccounts.id, id));
}

/**
 * Claims up to `limit` Service Accounts in `status` whose `column` time is due, by pushing it to
 * `leaseUntil` (rows another sweep holds are skipped), through the matching partial index. Returns
 * the ids claimed. Shared by the directory-sync and health sweeps.
 */
export async function claimDueServiceAccounts(
  db: DbOrTx,
  opts: {
    status: 'active' | 'broken';
    column: 'next_directory_sync_at' | 'next_health_check_at';
    now: Date;
    leaseUntil: Date;
    limit: number;
  },
): Promise<string[]> {
  const column = sql.identifier(opts.column);
  const rows = await db.execute<{ id: string }>(sql`
    with due as (
      select id from service_accounts
      where status = ${opts.status} and ${column} <= ${opts.now.toISOString()}::timestamptz
      order by ${column}
      limit ${opts.limit}
      for update skip locked)
    update service_accounts s set ${column} = ${opts.leaseUntil.toISOString()}::timestamptz
    from due where s.id = due.id
    returning s.id`);
  return rows.map((r) => r.id);
}

/** The newest Service Account (not revoked) of an Application for this provider and domain. */
export async function findServiceAccountByDomain(
  db: DbOrTx,
  applicationId: string,
  provider: ServiceAccount['provider'],
  domain: string,
): Promise<ServiceAccount | undefined> {
  const [row] = await db
    .select()
    .from(serviceAccounts)
    .where(
      and(
        eq(serviceAccounts.applicationId, applicationId),
        eq(serviceAccounts.provider, provider),
        eq(serviceAccounts.domain, domain.toLowerCase()),
        ne(serviceAccounts.status, 'revoked'),
      ),
    )
    .orderBy(desc(serviceAccounts.createdAt))
    .limit(1);
  return row;
}
