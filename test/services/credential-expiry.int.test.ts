import { describe, expect, it } from 'vitest';
import { findServiceAccount } from '../../src/db/queries/service-accounts.js';
import { credentialExpirySweep } from '../../src/services/credential-expiry.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';

/**
 * Credential expiry: the Microsoft secret's end date read from Graph (else the admin's
 * credential_expires_at), the `ec_service_account_credential_expiry_seconds` gauge, and the
 * `service_account_credential_expiring` notification at 30, 7 and 1 days ahead, each exactly once.
 */
const ADMIN_TOKEN = 'expiry-admin-token-0123456789abcdef';
const t = useTestApp({
  sandbox: { google: { users: 10, rooms: 2 }, microsoft: { users: 10, rooms: 2 } },
  env: { ADMIN_TOKEN },
});
const receiver = useReceiver();
const DAY = 86_400_000;

type Notification = {
  notification: {
    type: string;
    service_account_id: string;
    threshold_days: number;
    days_left: number;
    credential_expires_at: string;
    credential_expires_at_source: string;
  };
};

async function gauge(): Promise<Map<string, number>> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const m of (await res.text()).matchAll(
    /^ec_service_account_credential_expiry_seconds\{service_account="(ser_[a-z2-7]+)"\} (-?\d+)$/gm,
  )) {
    out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

const notifications = (id: string) =>
  receiver.received
    .map((r) => r.json as Notification)
    .filter((n) => n.notification?.service_account_id === id);

describe('credential expiry', () => {
  it('reads the Microsoft secret end date from Graph, serves the gauge, and notifies 30, 7 and 1 days ahead once each', async () => {
    const end = new Date(Date.now() + 40 * DAY);
    const set = await fetch(`${t.sandbox.url}/_sandbox/microsoft/permissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secret_end_date_time: end.toISOString() }),
    });
    expect(set.status).toBe(200);
    const app = await t.createApplication();
    const ms = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret, {
      notification_url: `${receiver.url}/ms`,
      // The provider's date wins over the admin's.
      credential_expires_at: new Date(Date.now() + 100 * DAY).toISOString(),
    });
    const g = await registerSandboxServiceAccount(t, 'google', app.clientSecret, {
      notification_url: `${receiver.url}/google`,
      credential_expires_at: new Date(Date.now() + 20 * DAY).toISOString(),
    });

    // The hourly job, through the queue: reads Graph, notifies Google's 20-day credential (30-day threshold).
    await t.runtime.app.enqueue('service-accounts.credential-expiry', {});
    const first = await receiver.waitFor((r) => r.path === '/google');
    expect(first.headers['cronofy-hmac-sha256']).toBeTruthy();
    expect((first.json as Notification).notification).toMatchObject({
      type: 'service_account_credential_expiring',
      service_account_id: g.service_account_id,
      threshold_days: 30,
      days_left: 19,
      credential_expires_at_source: 'admin',
    });
    let stored = await findServiceAccount(t.runtime.app.db, ms.service_account_id);
    for (let i = 0; i < 50 && !stored?.providerCredentialExpiresAt; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await findServiceAccount(t.runtime.app.db, ms.service_account_id);
    }
    expect(stored?.providerCredentialExpiresAt?.toISOString()).toBe(end.toISOString());

    const view = await fetch(`${t.url}/v1/service_accounts/${ms.service_account_id}`, {
      headers: { authorization: `Bearer ${app.clientSecret}` },
    });
    expect(((await view.json()) as { service_account: unknown }).service_account).toMatchObject({
      credential_expires_at: end.toISOString(),
      credential_expires_at_source: 'provider',
      warnings: [],
    });

    const seconds = await gauge();
    expect(Math.abs((seconds.get(ms.service_account_id) ?? 0) - 40 * 86_400)).toBeLessThan(120);
    expect(Math.abs((seconds.get(g.service_account_id) ?? 0) - 20 * 86_400)).toBeLessThan(120);

    // Time moves on (the sweep takes `now`): each threshold once, however often the job runs.
    const at = (daysLeft: number) => new Date(end.getTime() - daysLeft * DAY);
    for (const [daysLeft, threshold] of [
      [35, null],
      [29, 30],
      [25, null],
      [6.5, 7],
      [3, null],
      [0.5, 1],
      [-2, null],
    ] as const) {
      const sent = notifications(ms.service_account_id).length;
      await credentialExpirySweep(t.runtime.app, { now: at(daysLeft) });
      const again = await credentialExpirySweep(t.runtime.app, { now: at(daysLeft) });
      expect(again.notified, `${daysLeft} days left, second run`).toBe(0);
      if (threshold !== null) {
        const hit = await receiver.waitForCount(sent + 1, (r) => r.path === '/ms', 15_000);
        expect((hit.at(-1)?.json as Notification | undefined)?.notification.threshold_days).toBe(threshold);
      }
    }
    await receiver.waitForCount(3, (r) => r.path === '/google', 15_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const ms3 = notifications(ms.service_account_id);
    expect(ms3.map((n) => n.notification.threshold_days)).toEqual([30, 7, 1]);
    expect(ms3.every((n) => n.notification.credential_expires_at_source === 'provider')).toBe(true);
    expect(ms3.map((n) => n.notification.days_left)).toEqual([29, 6, 0]);
    // Google's credential was notified at 30 days already, then at 7 and 1 by the simulated sweeps.
    expect(notifications(g.service_account_id).map((n) => n.notification.threshold_days)).toEqual([30, 7, 1]);

    // A new secret replaced in place: the old secret's end date is forgotten until read again.
    const { clientSecret } = await t.sandbox.control.setSecret({ rotate: true });
    const patch = await fetch(`${t.url}/v1/service_accounts/${ms.service_account_id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${app.clientSecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_secret: clientSecret }),
    });
    expect(patch.status, await patch.text()).toBe(200);
    const replaced = await findServiceAccount(t.runtime.app.db, ms.service_account_id);
    expect(replaced?.providerCredentialExpiresAt).toBeNull();
    expect(replaced?.credentialExpiryReadAt).toBeNull();
  });

  it('refuses a notification_url that is not http(s) with a 422', async () => {
    const app = await t.createApplication();
    const res = await fetch(`${t.url}/v1/service_accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.clientSecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'google',
        domain: t.sandbox.google?.domain,
        admin_email: t.sandbox.google?.adminEmail,
        credentials: t.sandbox.google?.serviceAccountKey,
        notification_url: 'ftp://example.com/x\u0000',
      }),
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(await res.json())).toContain('notification_url');
  });
});
