import type { DbOrTx } from '../../src/db/client.js';
import { type AuthorizationCode, authorizationCodes } from '../../src/db/schema/authorization-codes.js';
import { type Token, tokens } from '../../src/db/schema/tokens.js';
import { hashToken, newOpaqueToken } from '../../src/lib/crypto.js';
import { newId } from '../../src/lib/ids.js';

/** Inserts a token for an Account (or a Service Account via overrides); returns the row and the plain token. */
export async function createToken(
  db: DbOrTx,
  subject: { applicationId: string; accountId?: string; serviceAccountId?: string },
  overrides: Partial<typeof tokens.$inferInsert> = {},
): Promise<{ row: Token; token: string }> {
  const token = newOpaqueToken();
  const [row] = await db
    .insert(tokens)
    .values({
      id: newId('token'),
      applicationId: subject.applicationId,
      kind: 'access',
      subjectType: subject.accountId ? 'account' : 'service_account',
      accountId: subject.accountId ?? null,
      serviceAccountId: subject.serviceAccountId ?? null,
      grantId: newId('token'),
      tokenHash: hashToken(token),
      scope: 'read_write',
      expiresAt: new Date(Date.now() + 3_600_000),
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return { row, token };
}

export async function createAuthorizationCode(
  db: DbOrTx,
  subject: { applicationId: string; accountId?: string; serviceAccountId?: string },
  overrides: Partial<typeof authorizationCodes.$inferInsert> = {},
): Promise<{ row: AuthorizationCode; code: string }> {
  const code = newOpaqueToken();
  const [row] = await db
    .insert(authorizationCodes)
    .values({
      id: newId('code'),
      applicationId: subject.applicationId,
      codeHash: hashToken(code),
      subjectType: subject.accountId ? 'account' : 'service_account',
      accountId: subject.accountId ?? null,
      serviceAccountId: subject.serviceAccountId ?? null,
      redirectUri: 'https://app.example.com/callback',
      scope: 'read_write',
      expiresAt: new Date(Date.now() + 600_000),
      ...overrides,
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return { row, code };
}
