import Cronofy from 'cronofy';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';

const t = useTestApp({
  sandbox: { google: { users: 5, rooms: 1 }, microsoft: { users: 5, rooms: 1 } },
  workers: false,
});
const REDIRECT = 'https://app.example.com/ec/callback';
const SCOPE = 'service_account/accounts/manage service_account/resources/manage';

function authorizeUrl(clientId: string, extra: Record<string, string> = {}) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: SCOPE,
    delegated_scope: 'read_write',
    state: 'xyz',
    ...extra,
  });
  return `${t.url}/enterprise_connect/oauth/authorize?${q}`;
}

async function openForm(clientId: string) {
  const res = await fetch(authorizeUrl(clientId));
  expect(res.status).toBe(200);
  const html = await res.text();
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  expect(cookie).toMatch(/^ec_csrf=/);
  expect(csrf.length).toBeGreaterThan(20);
  return { html, cookie, csrf };
}

function submit(cookie: string, form: Record<string, string>) {
  return fetch(`${t.url}/enterprise_connect/oauth/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams(form).toString(),
  });
}

describe('the Enterprise Connect authorize page', () => {
  it('registers a Microsoft tenant verified live and redirects with a code the SDK exchanges for the Service Account token', async () => {
    const app = await t.createApplication([REDIRECT]);
    const { html, cookie, csrf } = await openForm(app.clientId);
    expect(html).toContain('Connect your organization');
    const ms = t.sandbox.microsoft;
    const base = {
      csrf,
      client_id: app.clientId,
      redirect_uri: REDIRECT,
      scope: SCOPE,
      delegated_scope: 'read_write',
      state: 'xyz',
    };
    const res = await submit(cookie, {
      ...base,
      action: 'connect',
      provider: 'microsoft',
      domain: ms?.domain ?? '',
      tenant_id: ms?.tenantId ?? '',
      ms_client_id: ms?.clientId ?? '',
      ms_client_secret: ms?.clientSecret ?? '',
    });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe('xyz');
    const code = location.searchParams.get('code') ?? '';
    const client = new Cronofy({ client_id: app.clientId, client_secret: app.clientSecret });
    client.urls.api = t.url;
    const token = await client.requestAccessToken({ code, redirect_uri: REDIRECT });
    expect(String(token.service_account_id)).toMatch(/^ser_/);
    expect(token.scope).toBe(SCOPE);
    expect(token.expires_in).toBe(1800);
  });

  it('shows the provider reason on a refused credential and keeps the form', async () => {
    const app = await t.createApplication([REDIRECT]);
    const { cookie, csrf } = await openForm(app.clientId);
    await t.sandbox.control.setDelegation({ granted: false });
    try {
      const g = t.sandbox.google;
      const res = await submit(cookie, {
        csrf,
        client_id: app.clientId,
        redirect_uri: REDIRECT,
        scope: SCOPE,
        delegated_scope: 'read_write',
        state: 'xyz',
        action: 'connect',
        provider: 'google',
        domain: g?.domain ?? '',
        admin_email: g?.adminEmail ?? '',
        credentials: JSON.stringify(g?.serviceAccountKey),
      });
      expect(res.status).toBe(422);
      const html = await res.text();
      expect(html).toContain('delegation_not_granted');
      expect(html).toContain(g?.domain ?? 'x');
      expect(html).not.toContain('PRIVATE KEY');
    } finally {
      await t.sandbox.control.setDelegation({ granted: true });
    }
  });

  it('cancel redirects with error=access_denied; a missing or wrong CSRF token is refused', async () => {
    const app = await t.createApplication([REDIRECT]);
    const { cookie, csrf } = await openForm(app.clientId);
    const base = {
      client_id: app.clientId,
      redirect_uri: REDIRECT,
      scope: SCOPE,
      delegated_scope: 'read_write',
      state: 'xyz',
    };
    const forged = await submit('', { ...base, csrf, action: 'cancel' });
    expect(forged.status).toBe(403);
    const wrong = await submit(cookie, { ...base, csrf: 'nope', action: 'cancel' });
    expect(wrong.status).toBe(403);
    const cancel = await submit(cookie, { ...base, csrf, action: 'cancel' });
    expect(cancel.status).toBe(303);
    const location = new URL(cancel.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('xyz');
  });

  it('never redirects to an unregistered redirect_uri or for an unknown client', async () => {
    const app = await t.createApplication([REDIRECT]);
    const evil = await fetch(authorizeUrl(app.clientId, { redirect_uri: 'https://evil.example.com/cb' }), {
      redirect: 'manual',
    });
    expect(evil.status).toBe(400);
    expect(await evil.text()).toContain('not registered');
    const unknown = await fetch(authorizeUrl('nope'), { redirect: 'manual' });
    expect(unknown.status).toBe(400);
    const scope = await fetch(authorizeUrl(app.clientId, { scope: 'everything' }), { redirect: 'manual' });
    expect(scope.status).toBe(400);
  });
});
