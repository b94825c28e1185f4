import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { preparedFor } from '../prepared.js';
import { type ApplicationSecret, applicationSecrets } from '../schema/application-secrets.js';
import { type Application, applications } from '../schema/applications.js';

export async function insertApplication(
  db: DbOrTx,
  row: { id: string; name: string; clientId: string; redirectUris: string[] },
): Promise<Application> {
  const [created] = await db.insert(applications).values(row).returning();
  if (!created) {
    throw new Error('insert into applications returned nothing');
  }
  return created;
}

export async function insertApplicationSecret(
  db: DbOrTx,
  row: { id: string; applicationId: string; secretHash: string; secretEncrypted: string },
): Promise<void> {
  await db.insert(applicationSecrets).values(row);
}

const applicationByClientId = preparedFor((db) =>
  db
    .select()
    .from(applications)
    .where(eq(applications.clientId, sql.placeholder('clientId')))
    .prepare('find_application_by_client_id'),
);

export async function findApplicationByClientId(
  db: DbOrTx,
  clientId: string,
): Promise<Application | undefined> {
  const [row] = await applicationByClientId(db).execute({ clientId });
  return row;
}

const applicationById = preparedFor((db) =>
  db
    .select()
    .from(applications)
    .where(eq(applications.id, sql.placeholder('id')))
    .prepare('find_application'),
);

export async function findApplicationById(db: DbOrTx, id: string): Promise<Application | undefined> {
  const [row] = await applicationById(db).execute({ id });
  return row;
}

/** Sets (or, with null, clears) the Application's requests-per-minute override; undefined when no such id. */
/** Replaces an Application's registered redirect URIs (already validated). */
export async function updateApplicationRedirectUris(
  db: DbOrTx,
  id: string,
  redirectUris: string[],
): Promise<Application | undefined> {
  const [row] = await db
    .update(applications)
    .set({ redirectUris, updatedAt: new Date() })
    .where(eq(applications.id, id))
    .returning();
  return row;
}

export async function updateApplicationRateLimit(
  db: DbOrTx,
  id: string,
  rateLimitPerMinute: number | null,
): Promise<Application | undefined> {
  const [row] = await db
    .update(applications)
    .set({ rateLimitPerMinute, updatedAt: new Date() })
    .where(eq(applications.id, id))
    .returning();
  return row;
}

/**
 * The Application owning an active (not revoked) secret with this hash — and, when `clientId` is
 * given, only if that Application has this client id (the token endpoint's client authentication).
 */
export async function findApplicationBySecretHash(
  db: DbOrTx,
  secretHash: string,
  clientId?: string,
): Promise<Application | undefined> {
  const [row] = await (clientId === undefined ? applicationBySecret : applicationBySecretAndClient)(
    db,
  ).execute({
    secretHash,
    clientId,
  });
  return row?.application;
}

const bySecret = (db: DbOrTx, withClient: boolean) =>
  db
    .select({ application: applications })
    .from(applicationSecrets)
    .innerJoin(applications, eq(applications.id, applicationSecrets.applicationId))
    .where(
      and(
        eq(applicationSecrets.secretHash, sql.placeholder('secretHash')),
        isNull(applicationSecrets.revokedAt),
        withClient ? eq(applications.clientId, sql.placeholder('clientId')) : undefined,
      ),
    );
const applicationBySecret = preparedFor((db) => bySecret(db, false).prepare('find_application_by_secret'));
const applicationBySecretAndClient = preparedFor((db) =>
  bySecret(db, true).prepare('find_application_by_secret_and_client'),
);

/** Active secrets, newest first (the newest is the one to show as current). */
export async function listActiveSecrets(db: DbOrTx, applicationId: string): Promise<ApplicationSecret[]> {
  return db
    .select()
    .from(applicationSecrets)
    .where(and(eq(applicationSecrets.applicationId, applicationId), isNull(applicationSecrets.revokedAt)))
    .orderBy(desc(applicationSecrets.createdAt), desc(applicationSecrets.id));
}

export type ApplicationSummary = Application & { activeSecrets: number };

export async function listApplications(db: DbOrTx): Promise<ApplicationSummary[]> {
  const rows = await db
    .select({
      application: applications,
      activeSecrets: sql<number>`count(${applicationSecrets.id}) filter (where ${applicationSecrets.revokedAt} is null)::int`,
    })
    .from(applications)
    .leftJoin(applicationSecrets, eq(applicationSecrets.applicationId, applications.id))
    .groupBy(applications.id)
    .orderBy(asc(applications.createdAt), asc(applications.id));
  return rows.map((r) => ({ ...r.application, activeSecrets: r.activeSecrets }));
}

/** Revokes every active secret of the Application except `keepId`; returns how many were revoked. */
export async function revokeSecretsExcept(
  db: DbOrTx,
  applicationId: string,
  keepId: string,
): Promise<number> {
  const revoked = await db
    .update(applicationSecrets)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(applicationSecrets.applicationId, applicationId),
        isNull(applicationSecrets.revokedAt),
        sql`${applicationSecrets.id} <> ${keepId}`,
      ),
    )
    .returning({ id: applicationSecrets.id });
  return revoked.length;
}
