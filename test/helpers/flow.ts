import { expect } from 'vitest';
import type { TestApp } from './app.js';
import type { Receiver } from './receiver.js';

export type RegisteredSa = { access_token: string; refresh_token: string; service_account_id: string };

/** Registers a Service Account for the sandbox's Google or Microsoft org through the API. */
export async function registerSandboxServiceAccount(
  t: TestApp,
  provider: 'google' | 'microsoft',
  clientSecret: string,
  extra: Record<string, unknown> = {},
): Promise<RegisteredSa> {
  const sb = t.sandbox;
  const body =
    provider === 'google'
      ? {
          provider,
          domain: sb.google?.domain,
          admin_email: sb.google?.adminEmail,
          credentials: sb.google?.serviceAccountKey,
        }
      : {
          provider,
          domain: sb.microsoft?.domain,
          tenant_id: sb.microsoft?.tenantId,
          client_id: sb.microsoft?.clientId,
          client_secret: sb.microsoft?.clientSecret,
        };
  const res = await fetch(`${t.url}/v1/service_accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${clientSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, ...extra }),
  });
  const text = await res.text();
  expect(res.status, text).toBe(201);
  return JSON.parse(text) as RegisteredSa;
}

/** A user of the sandbox org that can be provisioned (active, with a mailbox, a plain user). */
export async function usableUsers(t: TestApp, provider: 'google' | 'microsoft', n = 1) {
  const { users } = await t.sandbox.control.listUsers(provider, { offset: 1, limit: 200 });
  const ok = users.filter((u) => !u.suspended && u.mailbox && !u.shared && !u.accessDenied && !u.admin);
  if (ok.length < n) {
    throw new Error(`sandbox org has only ${ok.length} usable users`);
  }
  return ok.slice(0, n);
}

/** Authorizes one email through the API and returns the Account's token response. */
export async function authorizeAccount(
  t: TestApp,
  receiver: Receiver,
  app: { clientId: string; clientSecret: string },
  sa: RegisteredSa,
  email: string,
  scope = 'read_write',
): Promise<Record<string, unknown> & { access_token: string; refresh_token: string; sub: string }> {
  const callbackUrl = `${receiver.url}/cb/${encodeURIComponent(email)}/${Math.random().toString(36).slice(2)}`;
  const res = await fetch(`${t.url}/v1/service_account_authorizations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sa.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email, callback_url: callbackUrl, scope, state: 'flow' }),
  });
  expect(res.status, await res.text()).toBe(202);
  const hit = await receiver.waitFor((r) => callbackUrl.endsWith(r.path));
  const code = (hit.json as { authorization: { code?: string } }).authorization.code;
  expect(code, hit.body).toBeTruthy();
  const tokenRes = await fetch(`${t.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'authorization_code',
      client_id: app.clientId,
      client_secret: app.clientSecret,
      code,
      redirect_uri: callbackUrl,
    }),
  });
  const json = await tokenRes.json();
  expect(tokenRes.status, JSON.stringify(json)).toBe(200);
  return json as Record<string, unknown> & { access_token: string; refresh_token: string; sub: string };
}
