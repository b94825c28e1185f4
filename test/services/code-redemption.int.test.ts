import { and, eq, inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { tokens } from '../../src/db/schema/tokens.js';
import { OAuthError } from '../../src/errors.js';
import { Keyring } from '../../src/lib/crypto.js';
import { authenticateAccessToken, exchangeCode } from '../../src/services/tokens.js';
import * as f from '../factories/index.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const [kid, kb64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id: kid, key: Buffer.from(kb64, 'base64') }]);
const REDIRECT = 'https://app.example.com/callback';

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (err: unknown) => (err instanceof OAuthError ? err.error : `error:${(err as Error).message}`),
  );

/** An Application with a secret, a Service Account and `n` Accounts, each with a live code. */
async function org(n: number) {
  const application = await f.createApplication(t.db);
  const { secret } = await f.createApplicationSecret(t.db, keyring, application.id);
  const sa = await f.createServiceAccount(t.db, keyring, { applicationId: application.id });
  const codes: { accountId: string; code: string }[] = [];
  for (let i = 0; i < n; i++) {
    const account = await f.createAccount(t.db, sa);
    await f.createProfile(t.db, account);
    const { code } = await f.createAuthorizationCode(t.db, {
      applicationId: application.id,
      accountId: account.id,
    });
    codes.push({ accountId: account.id, code });
  }
  return { client: { clientId: application.clientId, clientSecret: secret }, codes };
}

describe('code redemptions arriving together (one statement for many)', () => {
  it('redeems each code exactly once, keeps every refusal to its own request, and mints one grant each', async () => {
    const { client, codes } = await org(60);
    const [twice, wrongSecret, wrongRedirect] = [
      codes.slice(0, 40),
      codes.slice(40, 50),
      codes.slice(50, 60),
    ];
    // All at once: every code of `twice` presented by two requests, the others with a wrong secret or
    // a wrong redirect_uri, and one request whose redirect_uri Postgres cannot store (NUL).
    const attempts = await Promise.all([
      ...twice.flatMap(({ code }) => [
        outcome(exchangeCode({ db: t.db, keyring }, client, code, REDIRECT)),
        outcome(exchangeCode({ db: t.db, keyring }, client, code, REDIRECT)),
      ]),
      ...wrongSecret.map(({ code }) =>
        outcome(
          exchangeCode({ db: t.db, keyring }, { ...client, clientSecret: 'not-the-secret' }, code, REDIRECT),
        ),
      ),
      ...wrongRedirect.map(({ code }) =>
        outcome(exchangeCode({ db: t.db, keyring }, client, code, 'https://app.example.com/other')),
      ),
      outcome(exchangeCode({ db: t.db, keyring }, client, codes[0]?.code, `${REDIRECT}\u0000`)),
    ]);
    const pairs = twice.map((_, i) => [attempts[2 * i], attempts[2 * i + 1]].sort());
    expect(pairs.every((p) => p[0] === 'invalid_grant' && p[1] === 'ok')).toBe(true);
    expect(attempts.slice(80, 90)).toEqual(wrongSecret.map(() => 'invalid_client'));
    expect(attempts.slice(90, 100)).toEqual(wrongRedirect.map(() => 'invalid_grant'));
    // The unstorable one fails alone (the batch it joined was redeemed one by one).
    expect(attempts[100]).toMatch(/^error:|^invalid_/);

    // One grant (an access and a refresh token) per Account of `twice`, none for the refused ones.
    const minted = await t.db
      .select({ accountId: tokens.accountId, kind: tokens.kind, grantId: tokens.grantId })
      .from(tokens)
      .where(
        inArray(
          tokens.accountId,
          codes.map((c) => c.accountId),
        ),
      );
    expect(minted).toHaveLength(80);
    const byAccount = new Map<string, Set<string>>();
    for (const m of minted) {
      byAccount.set(m.accountId ?? '', (byAccount.get(m.accountId ?? '') ?? new Set()).add(`${m.kind}`));
    }
    expect([...byAccount.keys()].sort()).toEqual(twice.map((c) => c.accountId).sort());
    expect([...byAccount.values()].every((kinds) => kinds.size === 2)).toBe(true);
    expect(new Set(minted.map((m) => m.grantId)).size).toBe(40);

    // A refusal changed nothing: those codes still redeem, with the right client and redirect_uri.
    const later = await Promise.all(
      [...wrongSecret, ...wrongRedirect].map(({ code }) =>
        exchangeCode({ db: t.db, keyring }, client, code, REDIRECT),
      ),
    );
    expect(later.every((r) => r.token_type === 'bearer' && r.refresh_token)).toBe(true);
    // And each answer's token is its own Account's.
    for (const [i, r] of later.entries()) {
      const { subject } = await authenticateAccessToken(t.db, r.access_token);
      expect(subject).toEqual({
        type: 'account',
        accountId: [...wrongSecret, ...wrongRedirect][i]?.accountId,
      });
    }
    const all = await t.db
      .select({ id: tokens.id })
      .from(tokens)
      .where(
        and(
          inArray(
            tokens.accountId,
            codes.map((c) => c.accountId),
          ),
          eq(tokens.kind, 'access'),
        ),
      );
    expect(all).toHaveLength(60);
  });
});
