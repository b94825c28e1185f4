import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { authorizationCodes } from '../../src/db/schema/authorization-codes.js';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { DELIVERY_LEASE_MS, deliveryIdFor, storeDeliveriesSentHere } from '../../src/services/deliveries.js';
import { createAccount, createProfile, createServiceAccount } from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { type Received, useReceiver } from '../helpers/receiver.js';
import { directoryRunCalledBack } from '../helpers/runs.js';

const t = useTestApp({ sandbox: { google: { users: 300, rooms: 0 }, microsoft: false } });
const receiver = useReceiver();
const db = () => t.runtime.app.db;

type Authorization = { authorization: { code?: string; email: string } };
const authOf = (r: Received) => (r.json as Authorization).authorization;

async function redeem(app: { clientId: string; clientSecret: string }, code: string, redirectUri: string) {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
    }),
  });
  return res.status;
}

describe('first attempts sent by the process that committed them', () => {
  it('a run’s callbacks go out with codes minted in their batch’s own transaction, no claim between', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const path = '/first-here';
    const { run, emails } = await directoryRunCalledBack(t, receiver, sa.access_token, path);
    expect(run.counts.provisioned).toBeGreaterThan(200);
    expect(emails.size).toBe(run.counts.provisioned);
    const read = () =>
      db()
        .select({
          claims: outboundDeliveries.claims,
          status: outboundDeliveries.status,
          deliveryAt: outboundDeliveries.createdAt,
          codeAt: authorizationCodes.createdAt,
        })
        .from(outboundDeliveries)
        .innerJoin(authorizationCodes, eq(authorizationCodes.deliveryId, outboundDeliveries.id))
        .where(eq(outboundDeliveries.runId, run.id));
    // Outcomes are written in batches, up to 50 ms after their attempts: wait for the last ones.
    let rows = await read();
    for (let i = 0; i < 100 && rows.some((r) => r.status !== 'delivered'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = await read();
    }
    expect(rows).toHaveLength(run.counts.provisioned);
    for (const r of rows) {
      // One transaction: the same now(). A claim mints its code in a later transaction.
      expect(r.codeAt.getTime()).toBe(r.deliveryAt.getTime());
      expect(r.claims).toBe(1);
      expect(r.status).toBe('delivered');
    }
    // Every code received redeems.
    const codes = receiver.received.filter((r) => r.path === path).map((r) => authOf(r).code ?? '');
    const statuses = await Promise.all(
      codes.slice(0, 50).map((c) => redeem(app, c, `${receiver.url}${path}`)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('a process that dies after the commit, before sending: another claim sends it when the lease ends, with a fresh code', async () => {
    const app = await t.createApplication();
    const sa = await createServiceAccount(db(), t.runtime.app.keyring, { applicationId: app.applicationId });
    const account = await createAccount(db(), sa);
    await createProfile(db(), account);
    const path = '/died-before-send';
    const id = deliveryIdFor(`test:${path}`);
    const first = await db().transaction((tx) =>
      storeDeliveriesSentHere(tx, t.runtime.app, [
        {
          id,
          applicationId: app.applicationId,
          kind: 'callback',
          url: `${receiver.url}${path}`,
          body: { authorization: { state: 'crash', email: account.email } },
          accountId: account.id,
          codeScope: 'read_only',
        },
      ]),
    );
    // The process "dies": its places are given up, nothing is sent.
    first.release();
    const [stored] = await db().select().from(outboundDeliveries).where(eq(outboundDeliveries.id, id));
    expect(stored?.claims).toBe(1);
    expect(stored?.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now() + DELIVERY_LEASE_MS - 5_000);
    const [unsent] = await db()
      .select()
      .from(authorizationCodes)
      .where(eq(authorizationCodes.deliveryId, id));
    expect(unsent?.expiresAt.getTime()).toBeGreaterThan(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received.some((r) => r.path === path)).toBe(false);
    // The lease ends: a pump claims it and sends it with a code of its own.
    await db()
      .update(outboundDeliveries)
      .set({ nextAttemptAt: new Date(Date.now() - 1) })
      .where(eq(outboundDeliveries.id, id));
    const hit = await receiver.waitFor((r) => r.path === path, 10_000);
    const code = authOf(hit).code ?? '';
    expect(await redeem(app, code, `${receiver.url}${path}`)).toBe(200);
    // The first code, never sent, is expired; only the sent one was live.
    const live = await db()
      .select()
      .from(authorizationCodes)
      .where(and(eq(authorizationCodes.deliveryId, id), isNull(authorizationCodes.usedAt)));
    expect(live).toHaveLength(1);
    expect(live[0]?.expiresAt.getTime()).toBeLessThanOrEqual(Date.now());
  });
});
