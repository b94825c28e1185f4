import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import {
  authorizeAccount,
  type RegisteredSa,
  registerSandboxServiceAccount,
  usableUsers,
} from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: false, microsoft: { users: 20, rooms: 4 } } });
const receiver = useReceiver();

type Creds = {
  appA: { clientId: string; clientSecret: string };
  appB: { clientId: string; clientSecret: string };
  saA: RegisteredSa;
  saB: RegisteredSa;
  accountA: { access_token: string; sub: string; profileId: string };
};
let c: Creds;

beforeAll(async () => {
  const appA = await t.createApplication();
  const appB = await t.createApplication();
  const saA = await registerSandboxServiceAccount(t, 'microsoft', appA.clientSecret);
  const saB = await registerSandboxServiceAccount(t, 'microsoft', appB.clientSecret);
  const [user] = await usableUsers(t, 'microsoft');
  const account = await authorizeAccount(t, receiver, appA, saA, user?.email ?? '');
  const profileId = (account.linking_profile as { profile_id: string }).profile_id;
  c = { appA, appB, saA, saB, accountA: { access_token: account.access_token, sub: account.sub, profileId } };
});

type Kind = 'application' | 'service_account' | 'account';
type Route = {
  method: string;
  path: () => string;
  kind: Kind;
  /** Other credentials the route also takes (userinfo answers Service Account tokens too, as Cronofy does). */
  alsoAccepts?: Kind[];
  body?: () => unknown;
  ok: number;
};

/** Every authenticated route, with the credential it needs and a valid request. */
const routes: Route[] = [
  {
    method: 'GET',
    path: () => `/v1/service_accounts/${c.saA.service_account_id}`,
    kind: 'application',
    ok: 200,
  },
  {
    method: 'POST',
    path: () => '/v1/service_accounts',
    kind: 'application',
    body: () => ({ provider: 'microsoft' }),
    ok: 422,
  },
  {
    method: 'POST',
    path: () => '/v1/service_account_authorizations',
    kind: 'service_account',
    body: () => ({
      email: `x@${t.sandbox.microsoft?.domain}`,
      callback_url: `${receiver.url}/ignored`,
      scope: 'read_only',
    }),
    ok: 202,
  },
  { method: 'GET', path: () => '/v1/resources', kind: 'service_account', ok: 200 },
  { method: 'GET', path: () => '/v1/userinfo', kind: 'account', alsoAccepts: ['service_account'], ok: 200 },
  { method: 'GET', path: () => '/v1/account', kind: 'account', ok: 200 },
  { method: 'GET', path: () => '/v1/profiles', kind: 'account', ok: 200 },
  { method: 'GET', path: () => '/v1/calendars', kind: 'account', ok: 200 },
  { method: 'GET', path: () => '/v1/channels', kind: 'account', ok: 200 },
  {
    method: 'POST',
    path: () => '/v1/channels',
    kind: 'account',
    body: () => ({ callback_url: `${receiver.url}/channel` }),
    ok: 200,
  },
  {
    method: 'POST',
    path: () => '/v1/provisioning_runs',
    kind: 'service_account',
    body: () => ({ include: ['rooms'], dry_run: true }),
    ok: 202,
  },
  { method: 'GET', path: () => '/v1/provisioning_runs', kind: 'service_account', ok: 200 },
];

const credentialFor = (kind: Kind) =>
  kind === 'application'
    ? c.appA.clientSecret
    : kind === 'service_account'
      ? c.saA.access_token
      : c.accountA.access_token;

async function call(route: Route, authorization?: string) {
  const body = route.body?.();
  const res = await fetch(`${t.url}${route.path()}`, {
    method: route.method,
    headers: {
      ...(authorization === undefined ? {} : { authorization }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe.each(routes)('$method $kind route', (route) => {
  it('works with the right credential', async () => {
    for (const kind of [route.kind, ...(route.alsoAccepts ?? [])]) {
      const r = await call(route, `Bearer ${credentialFor(kind)}`);
      expect(r.status, `${kind} → ${r.text}`).toBe(route.ok);
    }
  });

  it('answers 401 without credentials, with a malformed header, or with an unknown token', async () => {
    for (const auth of [
      undefined,
      'Basic abc',
      'Bearer',
      `Bearer ${'x'.repeat(43)}`,
      `Bearer ${'y'.repeat(5000)}`,
    ]) {
      const r = await call(route, auth);
      expect(r.status, `${auth?.slice(0, 20)} → ${r.text}`).toBe(401);
      expect(r.json?.error).toMatchObject({ code: 'unauthorized' });
    }
  });

  it('refuses the other kinds of credential', async () => {
    const refused = (['application', 'service_account', 'account'] as const).filter(
      (k) => k !== route.kind && !route.alsoAccepts?.includes(k),
    );
    for (const other of refused) {
      const r = await call(route, `Bearer ${credentialFor(other)}`);
      expect([401, 403], `${other} → ${r.text}`).toContain(r.status);
    }
  });
});

describe('isolation between Applications', () => {
  it("never shows or deletes another Application's Service Account (404)", async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${t.url}/v1/service_accounts/${c.saA.service_account_id}`, {
        method,
        headers: { authorization: `Bearer ${c.appB.clientSecret}` },
      });
      expect(res.status).toBe(404);
    }
    const mine = await fetch(`${t.url}/v1/service_accounts/${c.saA.service_account_id}`, {
      headers: { authorization: `Bearer ${c.appA.clientSecret}` },
    });
    expect(mine.status).toBe(200);
  });

  it("cannot exchange another Application's code or refresh its tokens", async () => {
    const res = await fetch(`${t.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'refresh_token',
        client_id: c.appB.clientId,
        client_secret: c.appB.clientSecret,
        refresh_token: c.saA.refresh_token,
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
  });

  it("cannot revoke another Application's Account by sub", async () => {
    await fetch(`${t.url}/oauth/token/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: c.appB.clientId,
        client_secret: c.appB.clientSecret,
        sub: c.accountA.sub,
      }),
    });
    const r = await call(routes[4] as Route, `Bearer ${c.accountA.access_token}`);
    expect(r.status).toBe(200);
  });

  it('does not revoke a Profile of another Account (404)', async () => {
    const res = await fetch(`${t.url}/v1/profiles/pro_aaaaaaaaaaaaaaaaaaaaaaaaaa/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.accountA.access_token}` },
    });
    expect(res.status).toBe(404);
  });

  it('401s a Service Account token once the Service Account is deleted, and its Accounts with it', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
    const [, user] = await usableUsers(t, 'microsoft', 2);
    const account = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
    const del = await fetch(`${t.url}/v1/service_accounts/${sa.service_account_id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${app.clientSecret}` },
    });
    expect(del.status).toBe(202);
    expect((await call(routes[3] as Route, `Bearer ${sa.access_token}`)).status).toBe(401);
    expect((await call(routes[4] as Route, `Bearer ${account.access_token}`)).status).toBe(401);
  });
});
