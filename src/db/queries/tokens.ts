import { and, eq, gt, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { accounts } from '../schema/accounts.js';
import { authorizationCodes } from '../schema/authorization-codes.js';
import { type Token, tokens } from '../schema/tokens.js';

export type NewToken = typeof tokens.$inferInsert;

export async function insertTokens(db: DbOrTx, rows: NewToken[]): Promise<void> {
  await db.insert(tokens).values(rows);
}

/** An unrevoked, unexpired token with this hash, of this kind. */
export async function findLiveToken(
  db: DbOrTx,
  tokenHash: string,
  kind: Token['kind'],
): Promise<Token | undefined> {
  const [row] = await db
    .select()
    .from(tokens)
    .where(
      and(
        eq(tokens.tokenHash, tokenHash),
        eq(tokens.kind, kind),
        isNull(tokens.revokedAt),
        or(isNull(tokens.expiresAt), gt(tokens.expiresAt, sql`now()`)),
      ),
    );
  return row;
}

/** Any token with this hash (live or not), scoped to an Application. */
export async function findTokenForApplication(
  db: DbOrTx,
  tokenHash: string,
  applicationId: string,
): Promise<Token | undefined> {
  const [row] = await db
    .select()
    .from(tokens)
    .where(and(eq(tokens.tokenHash, tokenHash), eq(tokens.applicationId, applicationId)));
  return row;
}

export async function revokeGrant(db: DbOrTx, grantId: string): Promise<number> {
  const rows = await db
    .update(tokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(tokens.grantId, grantId), isNull(tokens.revokedAt)))
    .returning({ id: tokens.id });
  return rows.length;
}

/** Revokes every token of a subject (Account or Service Account) within one Application. */
export async function revokeSubjectTokens(
  db: DbOrTx,
  applicationId: string,
  subject: { accountId: string } | { serviceAccountId: string },
): Promise<number> {
  const match =
    'accountId' in subject
      ? eq(tokens.accountId, subject.accountId)
      : eq(tokens.serviceAccountId, subject.serviceAccountId);
  const rows = await db
    .update(tokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(tokens.applicationId, applicationId), match, isNull(tokens.revokedAt)))
    .returning({ id: tokens.id });
  return rows.length;
}

export type NewAuthorizationCode = typeof authorizationCodes.$inferInsert;

export async function insertAuthorizationCode(db: DbOrTx, row: NewAuthorizationCode): Promise<void> {
  await db.insert(authorizationCodes).values(row);
}

/**
 * Marks a code used, atomically: only one caller can consume it, and only while unexpired and
 * unused. Returns the code row if this caller consumed it.
 */
export async function consumeAuthorizationCode(db: DbOrTx, codeHash: string, applicationId: string) {
  const [row] = await db
    .update(authorizationCodes)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(authorizationCodes.codeHash, codeHash),
        eq(authorizationCodes.applicationId, applicationId),
        isNull(authorizationCodes.usedAt),
        gt(authorizationCodes.expiresAt, sql`now()`),
      ),
    )
    .returning();
  return row;
}

/** Deletes expired codes and tokens that expired or were revoked more than `graceSecs` ago. */
export async function deleteExpired(
  db: DbOrTx,
  graceSecs: number,
): Promise<{ codes: number; tokens: number }> {
  const cutoff = new Date(Date.now() - graceSecs * 1000);
  const codes = await db
    .delete(authorizationCodes)
    .where(lt(authorizationCodes.expiresAt, cutoff))
    .returning({ id: authorizationCodes.id });
  const dead = await db
    .delete(tokens)
    .where(or(lt(tokens.expiresAt, cutoff), lt(tokens.revokedAt, cutoff)))
    .returning({ id: tokens.id });
  return { codes: codes.length, tokens: dead.length };
}

/** Revokes the tokens of every Account under a Service Account. */
export async function revokeAccountTokensOfServiceAccount(
  db: DbOrTx,
  serviceAccountId: string,
): Promise<number> {
  const rows = await db
    .update(tokens)
    .set({ revokedAt: new Date() })
    .where(
      and(
        isNull(tokens.revokedAt),
        inArray(
          tokens.accountId,
          db
            .select({ id: accounts.id })
            .from(accounts)
            .where(eq(accounts.serviceAccountId, serviceAccountId)),
        ),
      ),
    )
    .returning({ id: tokens.id });
  return rows.length;
}

/**
 * One batch of cleanup: deletes up to `limit` authorization codes that expired before `cutoff`, and
 * up to `limit` tokens that expired or were revoked before it. Short statements, so a large backlog
 * never holds long locks; call again while a batch comes back full.
 */
export async function deleteExpiredBatch(
  db: DbOrTx,
  cutoff: Date,
  limit: number,
): Promise<{ codes: number; tokens: number }> {
  const codes = await db
    .delete(authorizationCodes)
    .where(
      inArray(
        authorizationCodes.id,
        db
          .select({ id: authorizationCodes.id })
          .from(authorizationCodes)
          .where(lt(authorizationCodes.expiresAt, cutoff))
          .limit(limit),
      ),
    )
    .returning({ id: authorizationCodes.id });
  const dead = await db
    .delete(tokens)
    .where(
      inArray(
        tokens.id,
        db
          .select({ id: tokens.id })
          .from(tokens)
          .where(or(lt(tokens.expiresAt, cutoff), lt(tokens.revokedAt, cutoff)))
          .limit(limit),
      ),
    )
    .returning({ id: tokens.id });
  return { codes: codes.length, tokens: dead.length };
}

export async function insertAuthorizationCodes(db: DbOrTx, rows: NewAuthorizationCode[]): Promise<void> {
  if (rows.length > 0) {
    await db.insert(authorizationCodes).values(rows);
  }
}
