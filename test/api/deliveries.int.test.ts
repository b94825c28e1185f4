import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { reviveDelivery } from '../../src/db/queries/deliveries.js';
import { aadOf } from '../../src/db/queries/encrypted-columns.js';
import { accounts } from '../../src/db/schema/accounts.js';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { hmacSignature } from '../../src/lib/crypto.js';
import { rotateSecret } from '../../src/services/applications.js';
import {
  claimAttempts,
  DELIVERY_LEASE_MS,
  deliverDue,
  deliveryIdFor,
  RETRY_DELAYS_SECS,
  storeDelivery,
} from '../../src/services/deliveries.js';
import { createAccount, createProfile, createServiceAccount } from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: false, microsoft: { users: 5, rooms: 1 } }, workers: false });
const receiver = useReceiver();

async function delivery(
  applicationId: string,
  path: string,
  body: unknown = { hello: path },
  extra: { accountId?: string; codeScope?: string } = {},
) {
  const id = deliveryIdFor(`test:${path}:${Math.random()}`);
  await t.runtime.app.db.transaction((tx) =>
    storeDelivery(tx, t.runtime.app, {
      id,
      applicationId,
      kind: 'callback',
      url: `${receiver.url}${path}`,
      body,
      ...extra,
    }),
  );
  return id;
}

/** An Application with one Account (and Profile) and a callback for it that carries a code. */
async function codedCallback(path: string, state: string | null, codeScope: string) {
  const app = await t.createApplication();
  const sa = await createServiceAccount(t.runtime.app.db, t.runtime.app.keyring, {
    applicationId: app.applicationId,
  });
  const account = await createAccount(t.runtime.app.db, sa);
  await createProfile(t.runtime.app.db, account);
  const id = await delivery(
    app.applicationId,
    path,
    { authorization: { state, email: account.email } },
    { accountId: account.id, codeScope },
  );
  return { app, account, id };
}

const row = async (id: string) =>
  (await t.runtime.app.db.select().from(outboundDeliveries).where(eq(outboundDeliveries.id, id)))[0];

/** What the retry delay would have done: the delivery is due again now. */
const makeDue = (id: string) =>
  t.runtime.app.db
    .update(outboundDeliveries)
    .set({ nextAttemptAt: new Date(Date.now() - 1) })
    .where(eq(outboundDeliveries.id, id));

async function redeem(clientId: string, clientSecret: string, code: string, redirectUri: string) {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: clientId,
      client_secret: clientSecret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the outbox', () => {
  it('signs with every active client secret, comma-separated', async () => {
    const app = await t.createApplication();
    const rotated = await rotateSecret(t.runtime.app, { clientId: app.clientId, actor: 'test' });
    const id = await delivery(app.applicationId, '/signed');
    const records = await deliverDue(t.runtime.app);
    expect(records.find((r) => r.id === id)).toMatchObject({ status: 'delivered', statusCode: 200 });
    const hit = await receiver.waitFor((r) => r.path === '/signed');
    const values = String(hit.headers['cronofy-hmac-sha256']).split(',');
    expect(values).toEqual([
      hmacSignature(hit.body, rotated.clientSecret),
      hmacSignature(hit.body, app.clientSecret),
    ]);
    expect(hit.headers['content-type']).toContain('application/json');
    expect((await row(id))?.status).toBe('delivered');
  });

  it('records a failed attempt and schedules the next one with backoff; a claimed delivery is leased', async () => {
    const app = await t.createApplication();
    const id = await delivery(app.applicationId, '/flaky');
    receiver.failNext(1, 503);
    const before = Date.now();
    const [first] = (await deliverDue(t.runtime.app)).filter((r) => r.id === id);
    expect(first?.status).toBe('pending');
    const after = await row(id);
    expect(after).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatusCode: 503,
      lastError: 'HTTP 503',
    });
    const waitMs = (after?.nextAttemptAt?.getTime() ?? 0) - before;
    expect(waitMs).toBeGreaterThanOrEqual(RETRY_DELAYS_SECS[0] * 1000 * 0.8 - 50);
    expect(waitMs).toBeLessThanOrEqual(RETRY_DELAYS_SECS[0] * 1000 * 1.2 + 1_000);
    // Not due yet: nothing to do.
    expect((await deliverDue(t.runtime.app)).some((r) => r.id === id)).toBe(false);
    await makeDue(id);
    // A claim leases it: a second claimer (another worker) does not get it.
    const claimed = await claimAttempts(t.runtime.app, { limit: 100, perApplication: 100 });
    expect(claimed.map((a) => a.id)).toContain(id);
    expect((await row(id))?.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now() + DELIVERY_LEASE_MS - 5_000);
    const again = await claimAttempts(t.runtime.app, { limit: 100, perApplication: 100 });
    expect(again.map((a) => a.id)).not.toContain(id);
    // The lease ends (its worker died): it is sent again.
    await makeDue(id);
    const [second] = (await deliverDue(t.runtime.app)).filter((r) => r.id === id);
    expect(second?.status).toBe('delivered');
    expect((await row(id))?.attempts).toBe(2);
  });

  it('keeps retrying for more than 24 hours, then dead-letters; a dead letter can be retried by hand', async () => {
    const totalSecs = RETRY_DELAYS_SECS.reduce((a, b) => a + b, 0);
    expect(totalSecs).toBeGreaterThan(24 * 3600);
    const app = await t.createApplication();
    const id = await delivery(app.applicationId, '/dead');
    await t.runtime.app.db
      .update(outboundDeliveries)
      .set({ attempts: RETRY_DELAYS_SECS.length })
      .where(eq(outboundDeliveries.id, id));
    receiver.failNext(1, 500);
    await deliverDue(t.runtime.app);
    expect(await row(id)).toMatchObject({ status: 'dead', lastStatusCode: 500 });
    expect(await reviveDelivery(t.runtime.app.db, id)).toBe(true);
    await deliverDue(t.runtime.app);
    expect(await row(id)).toMatchObject({ status: 'delivered', attempts: RETRY_DELAYS_SECS.length + 2 });
  });

  it('refuses private targets when not allowed, and never stores the response body', async () => {
    const app = await t.createApplication();
    const id = await delivery(app.applicationId, '/private');
    const strict = {
      ...t.runtime.app,
      config: { ...t.runtime.app.config, outbound: { allowPrivate: false } },
    };
    await deliverDue(strict);
    const after = await row(id);
    expect(after?.status).toBe('pending');
    expect(after?.lastError).toMatch(/private, loopback or link-local/);
    expect(JSON.stringify(after)).not.toContain('OK');
  });

  it('mints a fresh code for every attempt and expires the one before; never stores a code', async () => {
    const { app, account, id } = await codedCallback('/coded', 's1', 'read_only');
    receiver.failNext(1, 500);
    await deliverDue(t.runtime.app);
    const firstHit = receiver.refused.find((r) => r.path === '/coded');
    expect(firstHit).toBeDefined();
    const first = ((firstHit?.json ?? {}) as { authorization: { code: string; state: string } })
      .authorization;
    expect(first.code).toMatch(/.{20,}/);
    expect(first.state).toBe('s1');
    // Stored encrypted, and without the code.
    const stored = t.runtime.app.keyring.decrypt(
      (await row(id))?.bodyEncrypted ?? '',
      aadOf('outbound_deliveries', id),
    );
    expect(stored).not.toContain(first.code);
    await makeDue(id);
    await deliverDue(t.runtime.app);
    const hit = await receiver.waitFor((r) => r.path === '/coded');
    const second = (hit.json as { authorization: { code: string; email: string } }).authorization;
    expect(second.code).not.toBe(first.code);
    expect(second.email).toBe(account.email);
    expect(Object.keys(second)[0]).toBe('code');
    const redirect = `${receiver.url}/coded`;
    expect((await redeem(app.clientId, app.clientSecret, first.code, redirect)).body.error).toBe(
      'invalid_grant',
    );
    const ok = await redeem(app.clientId, app.clientSecret, second.code, redirect);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ sub: account.id, scope: 'read_only' });
  });

  it('expires the code of a claim that was never recorded (its worker died after sending) on the next claim', async () => {
    const { app, id } = await codedCallback('/crashed', 's2', 'read_write');
    const codeOf = (attempts: { id: string; body: string }[]) =>
      (JSON.parse(attempts.find((a) => a.id === id)?.body ?? '{}') as { authorization?: { code?: string } })
        .authorization?.code ?? '';
    // Claimed, sent (the app may hold its code), never recorded: attempts stays 0.
    const first = codeOf(await claimAttempts(t.runtime.app, { limit: 100, perApplication: 100 }));
    expect(first).toMatch(/.{20,}/);
    expect(await row(id)).toMatchObject({ attempts: 0, claims: 1 });
    await makeDue(id);
    const second = codeOf(await claimAttempts(t.runtime.app, { limit: 100, perApplication: 100 }));
    expect(second).toMatch(/.{20,}/);
    expect(second).not.toBe(first);
    expect(await row(id)).toMatchObject({ attempts: 0, claims: 2 });
    const redirect = `${receiver.url}/crashed`;
    expect((await redeem(app.clientId, app.clientSecret, first, redirect)).body.error).toBe('invalid_grant');
    expect((await redeem(app.clientId, app.clientSecret, second, redirect)).status).toBe(200);
  });

  it('cancels a callback whose Account was revoked before it could be sent', async () => {
    const { account, id } = await codedCallback('/revoked', null, 'read_only');
    await t.runtime.app.db.update(accounts).set({ status: 'revoked' }).where(eq(accounts.id, account.id));
    await deliverDue(t.runtime.app);
    expect(await row(id)).toMatchObject({ status: 'cancelled', attempts: 0 });
    expect(receiver.received.concat(receiver.refused).some((r) => r.path === '/revoked')).toBe(false);
  });

  it('shares every claim among Applications: a backlog of one never starves another', async () => {
    const big = await t.createApplication();
    const small = await t.createApplication();
    for (let i = 0; i < 30; i++) {
      await delivery(big.applicationId, `/big-${i}`);
    }
    const mine = await delivery(small.applicationId, '/small');
    const claimed = await claimAttempts(t.runtime.app, { limit: 10, perApplication: 5 });
    expect(claimed.map((a) => a.id)).toContain(mine);
    expect(claimed.filter((a) => a.applicationId === big.applicationId)).toHaveLength(5);
    const excluded = await claimAttempts(t.runtime.app, {
      limit: 10,
      perApplication: 5,
      exclude: [big.applicationId],
    });
    expect(excluded).toHaveLength(0);
  });
});
