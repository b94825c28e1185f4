import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { reviveDelivery } from '../../src/db/queries/deliveries.js';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { hmacSignature } from '../../src/lib/crypto.js';
import { rotateSecret } from '../../src/services/applications.js';
import {
  attemptDelivery,
  deliveryIdFor,
  RETRY_DELAYS_SECS,
  storeDelivery,
} from '../../src/services/deliveries.js';
import { useTestApp } from '../helpers/app.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: false, microsoft: { users: 5, rooms: 1 } }, workers: false });
const receiver = useReceiver();

async function delivery(applicationId: string, path: string, body: unknown = { hello: path }) {
  const id = deliveryIdFor(`test:${path}:${Math.random()}`);
  await t.runtime.app.db.transaction((tx) =>
    storeDelivery(tx, t.runtime.app, {
      id,
      applicationId,
      kind: 'callback',
      url: `${receiver.url}${path}`,
      body,
    }),
  );
  return id;
}

const row = async (id: string) =>
  (await t.runtime.app.db.select().from(outboundDeliveries).where(eq(outboundDeliveries.id, id)))[0];

describe('outbound deliveries', () => {
  it('signs with every active client secret, comma-separated', async () => {
    const app = await t.createApplication();
    const rotated = await rotateSecret(t.runtime.app, { clientId: app.clientId, actor: 'test' });
    const id = await delivery(app.applicationId, '/signed');
    expect(await attemptDelivery(t.runtime.app, id, 0)).toEqual({ outcome: 'delivered' });
    const hit = await receiver.waitFor((r) => r.path === '/signed');
    const values = String(hit.headers['cronofy-hmac-sha256']).split(',');
    expect(values).toEqual([
      hmacSignature(hit.body, rotated.clientSecret),
      hmacSignature(hit.body, app.clientSecret),
    ]);
    expect(hit.headers['content-type']).toContain('application/json');
    expect((await row(id))?.status).toBe('delivered');
  });

  it('records a failed attempt and schedules the next one with backoff; a duplicate job does nothing', async () => {
    const app = await t.createApplication();
    const id = await delivery(app.applicationId, '/flaky');
    receiver.failNext(1, 503);
    const first = await attemptDelivery(t.runtime.app, id, 0);
    expect(first.outcome).toBe('retry');
    expect(first.retryInMs).toBeGreaterThanOrEqual(RETRY_DELAYS_SECS[0] * 1000 * 0.8);
    expect(first.retryInMs).toBeLessThanOrEqual(RETRY_DELAYS_SECS[0] * 1000 * 1.2);
    const after = await row(id);
    expect(after).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatusCode: 503,
      lastError: 'HTTP 503',
    });
    // The same attempt number again (a job that ran twice) is skipped.
    expect(await attemptDelivery(t.runtime.app, id, 0)).toEqual({ outcome: 'skipped' });
    expect(await attemptDelivery(t.runtime.app, id, 1)).toEqual({ outcome: 'delivered' });
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
    expect(await attemptDelivery(t.runtime.app, id, RETRY_DELAYS_SECS.length)).toEqual({ outcome: 'dead' });
    expect(await row(id)).toMatchObject({ status: 'dead', lastStatusCode: 500 });
    expect(await reviveDelivery(t.runtime.app.db, id)).toBe(true);
    expect(await attemptDelivery(t.runtime.app, id, RETRY_DELAYS_SECS.length + 1)).toEqual({
      outcome: 'delivered',
    });
  });

  it('refuses private targets when not allowed, and never stores the response body', async () => {
    const app = await t.createApplication();
    const id = await delivery(app.applicationId, '/private');
    const strict = {
      ...t.runtime.app,
      config: { ...t.runtime.app.config, outbound: { allowPrivate: false } },
    };
    const result = await attemptDelivery(strict, id, 0);
    expect(result.outcome).toBe('retry');
    const after = await row(id);
    expect(after?.lastError).toMatch(/private, loopback or link-local/);
    expect(JSON.stringify(after)).not.toContain('OK');
  });
});
