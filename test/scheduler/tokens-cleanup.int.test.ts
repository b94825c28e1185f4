import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { authorizationCodes } from '../../src/db/schema/authorization-codes.js';
import { tokens } from '../../src/db/schema/tokens.js';
import { cleanupExpiredTokens } from '../../src/services/token-cleanup.js';
import {
  createAccount,
  createAuthorizationCode,
  createServiceAccount,
  createToken,
} from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { eventually } from './helpers.js';

const t = useTestApp({ sandbox: { google: { users: 5, rooms: 1 }, microsoft: false } });

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms);

async function seed() {
  const db = t.runtime.app.db;
  const sa = await createServiceAccount(db, t.runtime.app.keyring);
  const account = await createAccount(db, sa);
  const subject = { applicationId: sa.applicationId, accountId: account.id };
  const keep = [
    (await createToken(db, subject)).row.id, // live
    (await createToken(db, subject, { expiresAt: ago(60_000) })).row.id, // expired within the grace
    (await createToken(db, subject, { kind: 'refresh', expiresAt: null })).row.id, // refresh, no expiry
    (await createToken(db, subject, { kind: 'refresh', expiresAt: null, revokedAt: ago(60_000) })).row.id,
  ];
  const drop = [
    (await createToken(db, subject, { expiresAt: ago(2 * DAY) })).row.id,
    (await createToken(db, subject, { kind: 'refresh', expiresAt: null, revokedAt: ago(2 * DAY) })).row.id,
    (
      await createToken(
        db,
        { applicationId: sa.applicationId, serviceAccountId: sa.id },
        { expiresAt: ago(3 * DAY) },
      )
    ).row.id,
  ];
  const keepCodes = [
    (await createAuthorizationCode(db, subject)).row.id,
    (await createAuthorizationCode(db, subject, { expiresAt: ago(60_000), usedAt: ago(120_000) })).row.id,
  ];
  const dropCodes = [
    (await createAuthorizationCode(db, subject, { expiresAt: ago(2 * DAY) })).row.id,
    (await createAuthorizationCode(db, subject, { expiresAt: ago(5 * DAY), usedAt: ago(5 * DAY) })).row.id,
  ];
  return { keep, drop, keepCodes, dropCodes };
}

async function remaining(ids: { tokens: string[]; codes: string[] }) {
  const db = t.runtime.app.db;
  const tk = await db.select({ id: tokens.id }).from(tokens).where(inArray(tokens.id, ids.tokens));
  const cd = await db
    .select({ id: authorizationCodes.id })
    .from(authorizationCodes)
    .where(inArray(authorizationCodes.id, ids.codes));
  return { tokens: tk.map((r) => r.id).sort(), codes: cd.map((r) => r.id).sort() };
}

describe('tokens.cleanup', () => {
  it('deletes only codes and tokens that expired or were revoked before the grace period, in batches', async () => {
    const s = await seed();
    const result = await cleanupExpiredTokens(t.runtime.app, { graceSecs: 86_400, batchSize: 1 });
    expect(result).toMatchObject({ codes: 2, tokens: 3 });
    expect(result.batches).toBeGreaterThanOrEqual(3);
    const left = await remaining({ tokens: [...s.keep, ...s.drop], codes: [...s.keepCodes, ...s.dropCodes] });
    expect(left).toEqual({ tokens: [...s.keep].sort(), codes: [...s.keepCodes].sort() });
    // Nothing left to do: a second run deletes nothing.
    expect(await cleanupExpiredTokens(t.runtime.app, { graceSecs: 86_400 })).toMatchObject({
      codes: 0,
      tokens: 0,
      batches: 1,
    });
  });

  it('runs as a queued job with the default grace period (7 days)', async () => {
    const db = t.runtime.app.db;
    const sa = await createServiceAccount(db, t.runtime.app.keyring);
    const subject = { applicationId: sa.applicationId, serviceAccountId: sa.id };
    const old = (await createToken(db, subject, { expiresAt: ago(8 * DAY) })).row.id;
    const recent = (await createToken(db, subject, { expiresAt: ago(2 * DAY) })).row.id;
    await t.runtime.app.enqueue('tokens.cleanup', {});
    await eventually(async () => {
      const left = await remaining({ tokens: [old, recent], codes: [] });
      return left.tokens.length === 1 && left;
    }, 'cleanup job');
    expect((await remaining({ tokens: [old, recent], codes: [] })).tokens).toEqual([recent]);
  });
});
