import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import {
  authorizeAccount,
  type RegisteredSa,
  registerSandboxServiceAccount,
  usableUsers,
} from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: false, microsoft: { users: 12, rooms: 5 } } });
const receiver = useReceiver();

let app: { clientId: string; clientSecret: string; applicationId: string };
let sa: RegisteredSa;
let account: Awaited<ReturnType<typeof authorizeAccount>>;

beforeAll(async () => {
  app = await t.createApplication(['https://app.example.com/ec']);
  sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret, {
    credential_expires_at: new Date(Date.now() + 10 * 86_400_000).toISOString(),
  });
  const [user] = await usableUsers(t, 'microsoft');
  account = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('health and docs', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    // /docs is the rendered reference (openapi.int.test.ts); the document itself is at /docs/json.
    expect((await fetch(`${t.url}/docs`)).headers.get('content-type')).toMatch(/^text\/html/);
    const res = await fetch(`${t.url}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/oauth/token',
      '/v1/service_accounts',
      '/v1/service_account_authorizations',
      '/v1/resources',
      '/v1/userinfo',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });

  it('sends no CORS headers', async () => {
    const res = await fetch(`${t.url}/v1/userinfo`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('token endpoint', () => {
  it('accepts form bodies, ignores Authorization, never caches, and reports RFC 6749 errors', async () => {
    const res = await fetch(`${t.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer undefined' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: app.clientId,
        client_secret: app.clientSecret,
        refresh_token: account.refresh_token,
      }).toString(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const json = (await res.json()) as Record<string, unknown>;
    expect(json).toMatchObject({
      token_type: 'bearer',
      refresh_token: account.refresh_token,
      sub: account.sub,
      expires_in: 3600,
    });

    const bad = async (body: Record<string, unknown>) => {
      const r = await post('/oauth/token', body);
      return { status: r.status, json: (await r.json()) as { error: string } };
    };
    expect(
      await bad({
        grant_type: 'refresh_token',
        client_id: app.clientId,
        client_secret: 'wrong',
        refresh_token: 'x',
      }),
    ).toMatchObject({ status: 400, json: { error: 'invalid_client' } });
    expect(
      await bad({ grant_type: 'password', client_id: app.clientId, client_secret: app.clientSecret }),
    ).toMatchObject({ status: 400, json: { error: 'unsupported_grant_type' } });
    expect(
      await bad({
        grant_type: 'authorization_code',
        client_id: app.clientId,
        client_secret: app.clientSecret,
        code: 'nope',
        redirect_uri: 'https://x',
      }),
    ).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(
      await bad({ grant_type: 'refresh_token', client_id: app.clientId, client_secret: app.clientSecret }),
    ).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    expect(await bad({ client_id: 5 })).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
  });

  it('binds a code to its redirect_uri', async () => {
    const [, user] = await usableUsers(t, 'microsoft', 2);
    const callbackUrl = `${receiver.url}/bound/${Date.now()}`;
    await post(
      '/v1/service_account_authorizations',
      { email: user?.email, callback_url: callbackUrl, scope: 'read_only' },
      { authorization: `Bearer ${sa.access_token}` },
    );
    const hit = await receiver.waitFor((r) => callbackUrl.endsWith(r.path));
    const code = (hit.json as { authorization: { code: string } }).authorization.code;
    const exchange = (redirect_uri: string, client_secret = app.clientSecret) =>
      post('/oauth/token', {
        grant_type: 'authorization_code',
        client_id: app.clientId,
        client_secret,
        code,
        redirect_uri,
      });
    // A wrong secret with a live code is the client's error, and does not burn the code either.
    const wrongClient = await exchange(callbackUrl, `${app.clientSecret}x`);
    expect([wrongClient.status, ((await wrongClient.json()) as { error: string }).error]).toEqual([
      400,
      'invalid_client',
    ]);
    expect((await exchange(`${callbackUrl}/other`)).status).toBe(400);
    // A mismatch does not burn the code; the right redirect_uri still works once.
    expect((await exchange(callbackUrl)).status).toBe(200);
    expect((await exchange(callbackUrl)).status).toBe(400);
  });
});

describe('service accounts', () => {
  it('warns when the credential expires within 30 days and reports status and counts', async () => {
    const res = await fetch(`${t.url}/v1/service_accounts/${sa.service_account_id}`, {
      headers: { authorization: `Bearer ${app.clientSecret}` },
    });
    const json = (await res.json()) as { service_account: Record<string, unknown> };
    expect(json.service_account).toMatchObject({
      status: 'active',
      provider_name: 'microsoft',
      accounts: expect.any(Number),
    });
    expect((json.service_account.warnings as string[])[0]).toMatch(/expires in (9|10) day/);
    expect(json.service_account.accounts).toBeGreaterThanOrEqual(1);
  });

  it('names the provider reason when the credential is refused (422)', async () => {
    const res = await post(
      '/v1/service_accounts',
      {
        provider: 'microsoft',
        domain: t.sandbox.microsoft?.domain,
        tenant_id: t.sandbox.microsoft?.tenantId,
        client_id: t.sandbox.microsoft?.clientId,
        client_secret: 'wrong-secret',
      },
      { authorization: `Bearer ${app.clientSecret}` },
    );
    expect(res.status).toBe(422);
    const json = (await res.json()) as { errors: { credentials: { key: string }[] } };
    expect(json.errors.credentials[0]?.key).toBe('errors.invalid_credentials');
  });

  it('rejects a bad body with Cronofy-style field errors', async () => {
    const res = await post(
      '/v1/service_accounts',
      { provider: 'google', domain: 'not a domain' },
      { authorization: `Bearer ${app.clientSecret}` },
    );
    expect(res.status).toBe(422);
    const json = (await res.json()) as { errors: Record<string, { key: string; description: string }[]> };
    expect(Object.keys(json.errors)).toEqual(expect.arrayContaining(['domain']));
  });

  it('lists resources with and without details', async () => {
    const plain = (await (
      await fetch(`${t.url}/v1/resources`, { headers: { authorization: `Bearer ${sa.access_token}` } })
    ).json()) as { resources: Record<string, unknown>[] };
    expect(plain.resources).toHaveLength(5);
    expect(Object.keys(plain.resources[0] ?? {}).sort()).toEqual(['email', 'name']);
    const detailed = (await (
      await fetch(`${t.url}/v1/resources?include_details=true`, {
        headers: { authorization: `Bearer ${sa.access_token}` },
      })
    ).json()) as { resources: Record<string, unknown>[] };
    expect(Object.keys(detailed.resources[0] ?? {})).toEqual(
      expect.arrayContaining(['capacity', 'building', 'floor', 'resource_type']),
    );
  });

  it('refuses a scope outside the delegated scope (403) and private callback URLs when not allowed', async () => {
    const res = await post(
      '/v1/service_account_authorizations',
      { email: 'someone@example.com', callback_url: `${receiver.url}/x`, scope: 'nonsense' },
      { authorization: `Bearer ${sa.access_token}` },
    );
    expect(res.status).toBe(403);
    const bulk = await post(
      '/v1/service_account_authorizations',
      {
        service_account_authorizations: Array.from({ length: 1001 }, (_, i) => ({
          email: `u${i}@example.com`,
          callback_url: `${receiver.url}/x`,
          scope: 'read_only',
        })),
      },
      { authorization: `Bearer ${sa.access_token}` },
    );
    expect(bulk.status).toBe(422);
  });
});

describe('rate limiting', () => {
  it('gives each Application one budget for all its credentials: 429 with Retry-After past it, others unaffected', async () => {
    // A separate server with a tiny budget; fresh Applications so no earlier request counts.
    const { buildServer } = await import('../../src/api/server.js');
    const small = await buildServer(t.runtime.app, { rateLimit: { perMinute: 3 } });
    await small.ready();
    const mine = await t.createApplication();
    const other = await t.createApplication();
    const ms = t.sandbox.microsoft;
    try {
      const registered = await small.inject({
        method: 'POST',
        url: '/v1/service_accounts',
        headers: { authorization: `Bearer ${mine.clientSecret}` },
        payload: {
          provider: 'microsoft',
          domain: ms?.domain,
          tenant_id: ms?.tenantId,
          client_id: ms?.clientId,
          client_secret: ms?.clientSecret,
        },
      });
      expect(registered.statusCode).toBe(201);
      const saToken = registered.json<{ access_token: string; service_account_id: string }>();
      const asSa = { authorization: `Bearer ${saToken.access_token}` };
      expect((await small.inject({ method: 'GET', url: '/v1/resources', headers: asSa })).statusCode).toBe(
        200,
      );
      const third = await small.inject({
        method: 'GET',
        url: `/v1/service_accounts/${saToken.service_account_id}`,
        headers: { authorization: `Bearer ${mine.clientSecret}` },
      });
      expect(third.statusCode).toBe(200);
      // The fourth request of the Application, with another of its credentials, is over budget.
      const limited = await small.inject({ method: 'GET', url: '/v1/resources', headers: asSa });
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
      // Another Application has its own budget.
      const theirs = await small.inject({
        method: 'GET',
        url: '/v1/service_accounts/ser_aaaaaaaaaaaaaaaaaaaaaaaaaa',
        headers: { authorization: `Bearer ${other.clientSecret}` },
      });
      expect(theirs.statusCode).toBe(404);
    } finally {
      await small.close();
    }
  });
});

describe('secrets at rest and in logs', () => {
  it('stores no token, code or secret in plain text and logs none of them', async () => {
    const { stdout } = await promisify(execFile)('pg_dump', ['--data-only', t.config.databaseUrl], {
      maxBuffer: 256 * 1024 * 1024,
    });
    const secrets = [
      app.clientSecret,
      sa.access_token,
      sa.refresh_token,
      account.access_token,
      account.refresh_token,
      t.sandbox.microsoft?.clientSecret ?? 'x',
    ];
    for (const s of secrets) {
      expect(stdout.includes(s), `secret ${s.slice(0, 6)}… found in the database`).toBe(false);
    }
    const codes = receiver.received
      .map((r) => (r.json as { authorization?: { code?: string } }).authorization?.code)
      .filter((c): c is string => !!c);
    expect(codes.length).toBeGreaterThan(0);
    const logs = t.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const s of [...secrets, ...codes]) {
      expect(stdout.includes(s)).toBe(false);
      expect(logs.includes(s), `secret ${s.slice(0, 6)}… found in the logs`).toBe(false);
    }
  });
});

describe('re-authorizing an email', () => {
  it('re-uses the one Account (and its Profile), reconnecting it', async () => {
    const [, , user] = await usableUsers(t, 'microsoft', 3);
    const first = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
    // The Profile was disconnected meanwhile (e.g. by a check); authorizing again reconnects it.
    await t.runtime.app.db.execute(
      sql`update profiles set connected = false, disconnect_reason = 'user_suspended' where account_id = ${first.sub}`,
    );
    const second = await authorizeAccount(t, receiver, app, sa, (user?.email ?? '').toUpperCase());
    expect(second.sub).toBe(first.sub);
    expect((second.linking_profile as { profile_id: string }).profile_id).toBe(
      (first.linking_profile as { profile_id: string }).profile_id,
    );
    const profiles = await fetch(`${t.url}/v1/profiles`, {
      headers: { authorization: `Bearer ${second.access_token}` },
    });
    expect(
      ((await profiles.json()) as { profiles: { profile_connected: boolean }[] }).profiles[0]
        ?.profile_connected,
    ).toBe(true);
    const [row] = await t.runtime.app.db.execute<{ n: number }>(
      sql`select count(*)::int as n from accounts where lower(email) = lower(${user?.email ?? ''})`,
    );
    expect(row?.n).toBe(1);
  });
});

describe('userinfo with a Service Account token', () => {
  it("answers in Cronofy's service_account shape, through the official SDK", async () => {
    const { default: Cronofy } = await import('cronofy');
    const client = new Cronofy({ access_token: sa.access_token });
    client.urls.api = t.url;
    const info = await client.userInfo();
    expect(info).toMatchObject({
      sub: sa.service_account_id,
      'cronofy.type': 'service_account',
      'cronofy.data': {
        service_account: { provider_name: 'exchange', domain: t.sandbox.microsoft?.domain },
        authorization: { status: 'active', delegated_scope: 'read_write' },
      },
    });
  });
});
