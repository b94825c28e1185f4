import { describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../../src/errors.js';
import { Keyring } from '../../src/lib/crypto.js';
import { authenticateAccessToken, type Bearer } from '../../src/services/tokens.js';
import * as f from '../factories/index.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const [kid, kb64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id: kid, key: Buffer.from(kb64, 'base64') }]);

describe('access-token lookups arriving together (one statement for many bearers)', () => {
  it('answers each bearer with its own token, Account, Profile and Calendars, and refuses dead ones alone', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const live: { token: string; accountId: string; profileId: string; calendar: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const account = await f.createAccount(t.db, sa);
      const profile = await f.createProfile(t.db, account);
      const calendar = await f.createCalendar(t.db, profile, { name: `Calendar of ${i}` });
      const { token } = await f.createToken(t.db, { applicationId: sa.applicationId, accountId: account.id });
      live.push({ token, accountId: account.id, profileId: profile.id, calendar: calendar.id });
    }
    const saToken = (await f.createToken(t.db, { applicationId: sa.applicationId, serviceAccountId: sa.id }))
      .token;
    const someone = live[0]?.accountId ?? '';
    const revoked = (
      await f.createToken(
        t.db,
        { applicationId: sa.applicationId, accountId: someone },
        { revokedAt: new Date() },
      )
    ).token;
    const expired = (
      await f.createToken(
        t.db,
        { applicationId: sa.applicationId, accountId: someone },
        { expiresAt: new Date(Date.now() - 1000) },
      )
    ).token;
    const refresh = (
      await f.createToken(
        t.db,
        { applicationId: sa.applicationId, accountId: someone },
        { kind: 'refresh', expiresAt: null },
      )
    ).token;

    // All at once, each live bearer twice, the dead ones in between.
    const bearers = [
      ...live.map((l) => l.token),
      revoked,
      saToken,
      expired,
      refresh,
      'unknown',
      ...live.map((l) => l.token),
    ];
    const answers = await Promise.all(
      bearers.map((b) =>
        authenticateAccessToken(t.db, b).then(
          (r): Bearer | string => r,
          (err: unknown) => (err instanceof UnauthorizedError ? 'unauthorized' : String(err)),
        ),
      ),
    );
    const seen = (a: (typeof answers)[number]) =>
      typeof a === 'string'
        ? a
        : {
            subject: a.subject,
            profile: a.view?.profile.id,
            calendars: a.view?.calendars?.map((c) => c.id),
          };
    const expectLive = live.map((l) => ({
      subject: { type: 'account', accountId: l.accountId },
      profile: l.profileId,
      calendars: [l.calendar],
    }));
    expect(answers.map(seen)).toEqual([
      ...expectLive,
      'unauthorized',
      {
        subject: { type: 'service_account', serviceAccountId: sa.id },
        profile: undefined,
        calendars: undefined,
      },
      'unauthorized',
      'unauthorized',
      'unauthorized',
      ...expectLive,
    ]);
  });
});
