import { sql } from 'drizzle-orm';
import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/api/errors.js';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { routeTable } from '../helpers/routes.js';
import { STORED_TABLES, storedDigest } from '../helpers/stored.js';

// Text Postgres cannot store — NUL (`%00`, `\u0000`), unpaired surrogates (`"\ud800"`) — and URLs
// that are not UTF-8 (`%ff`, `%C3%28`), sent to every route the server has, in every path parameter,
// query string and body field, with and without valid credentials. Each must be refused with the
// route's own 4xx error shape before it reaches SQL, and nothing stored may change. fuzz.int.test.ts
// throws random malformed input at a fixed list of routes; this walks the live route table with
// otherwise-valid requests, so a new route without a sample here fails the test.

const ADMIN_TOKEN = 'hostile-input-admin-token-0123456789';
const t = useTestApp({
  sandbox: { google: false, microsoft: { users: 10, rooms: 2 } },
  env: { ADMIN_TOKEN },
});
const receiver = useReceiver();

type Cred = 'none' | 'application' | 'service_account' | 'account' | 'admin';
/** How a route answers errors: token endpoints (RFC 6749), the JSON API, HTML pages, plain text. */
type Kind = 'token' | 'json' | 'page' | 'relink' | 'admin' | 'loose';
type Sample = {
  kind: Kind;
  /** Valid credentials for the route (each is tried, and no credentials too); [] = needs none. */
  auth: Cred[];
  params?: Record<string, string>;
  query?: Record<string, string>;
  /** Otherwise-valid bodies; each string field is made hostile in turn. */
  bodies?: Record<string, unknown>[];
  /** Also send the bodies as application/x-www-form-urlencoded (token endpoints, HTML forms). */
  form?: boolean;
};

const headers: Record<Cred, Record<string, string>> = {
  none: {},
  application: {},
  service_account: {},
  account: {},
  admin: { authorization: `Bearer ${ADMIN_TOKEN}` },
};
const ctx = {
  clientId: '',
  clientSecret: '',
  serviceAccountId: '',
  profileId: '',
  refreshToken: '',
  otherEmail: '',
};
const unknownId = (prefix: string) => `${prefix}_${'a'.repeat(26)}`;
/** A window the calendar read APIs accept: tomorrow for a week (Etc/UTC). */
function dataWindow(): { tzid: string; from: string; to: string } {
  const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
  return { tzid: 'Etc/UTC', from: day(1), to: day(8) };
}

function samples(): Record<string, Sample | 'skip'> {
  const callback = `${receiver.url}/hostile`;
  const sb = t.sandbox.microsoft;
  const appCreds = { client_id: ctx.clientId, client_secret: ctx.clientSecret };
  const authorization = { email: ctx.otherEmail, callback_url: callback, scope: 'read_write', state: 's' };
  const authorizeQuery = {
    response_type: 'code',
    client_id: ctx.clientId,
    redirect_uri: 'https://app.example.com/cb',
    scope: 'service_account/accounts/manage',
    delegated_scope: 'read_write',
    state: 'st',
  };
  const adminForm: Sample = { kind: 'admin', auth: ['admin'], bodies: [{ csrf: 'x' }], form: true };
  return {
    'GET /healthz': { kind: 'json', auth: [] },
    'GET /readyz': { kind: 'json', auth: [] },
    // The API reference (@fastify/swagger-ui): an HTML page, its initializer, the document.
    'GET /docs': { kind: 'json', auth: [] },
    'GET /docs/': { kind: 'json', auth: [] },
    'GET /docs/static/index.html': { kind: 'json', auth: [] },
    'GET /docs/static/swagger-initializer.js': { kind: 'json', auth: [] },
    'GET /docs/json': { kind: 'json', auth: [] },
    'GET /docs/yaml': { kind: 'json', auth: [] },
    'GET /docs/openapi.json': { kind: 'json', auth: [] },
    'GET /relink/:profileId': {
      kind: 'relink',
      auth: [],
      params: { profileId: ctx.profileId },
      query: { check: 'queued' },
    },
    'POST /relink/:profileId/check': {
      kind: 'relink',
      auth: [],
      params: { profileId: unknownId('pro') },
      bodies: [{ x: 'y' }],
      form: true,
    },
    'POST /oauth/token': {
      kind: 'token',
      auth: [],
      bodies: [
        {
          grant_type: 'refresh_token',
          ...appCreds,
          refresh_token: ctx.refreshToken,
          code: 'c',
          redirect_uri: callback,
        },
      ],
      form: true,
    },
    'POST /oauth/token/revoke': {
      kind: 'token',
      auth: [],
      bodies: [{ ...appCreds, token: 'not-a-token', sub: unknownId('acc') }],
      form: true,
    },
    'POST /v1/service_accounts': {
      kind: 'json',
      auth: ['application'],
      bodies: [
        {
          provider: 'microsoft',
          domain: sb?.domain,
          tenant_id: sb?.tenantId,
          client_id: sb?.clientId,
          client_secret: sb?.clientSecret,
          scope: 'service_account/accounts/manage',
          delegated_scope: 'read_write',
        },
      ],
    },
    'GET /v1/service_accounts/:id': {
      kind: 'json',
      auth: ['application'],
      params: { id: ctx.serviceAccountId },
    },
    'DELETE /v1/service_accounts/:id': {
      kind: 'json',
      auth: ['application'],
      params: { id: unknownId('ser') },
    },
    'GET /v1/service_accounts/:id/diagnostics': {
      kind: 'json',
      auth: ['application'],
      params: { id: unknownId('ser') },
      query: { mailbox: 'someone@example.com' },
    },
    'PATCH /v1/service_accounts/:id': {
      kind: 'json',
      auth: ['application'],
      params: { id: ctx.serviceAccountId },
      bodies: [{ auto_provision: false, removal_delay_seconds: 604_800, client_secret: sb?.clientSecret }],
    },
    'POST /v1/service_account_authorizations': {
      kind: 'json',
      auth: ['service_account'],
      bodies: [authorization, { service_account_authorizations: [authorization] }],
    },
    'GET /v1/resources': { kind: 'json', auth: ['service_account'], query: { include_details: 'true' } },
    'GET /v1/userinfo': { kind: 'json', auth: ['account', 'service_account'] },
    'GET /v1/account': { kind: 'json', auth: ['account'] },
    'GET /v1/profiles': { kind: 'json', auth: ['account'] },
    'GET /v1/calendars': { kind: 'json', auth: ['account'] },
    'GET /v1/free_busy': { kind: 'json', auth: ['account'], query: dataWindow() },
    'GET /v1/events': {
      kind: 'json',
      auth: ['account'],
      query: { ...dataWindow(), include_deleted: 'true' },
    },
    'GET /v1/free_busy/pages/:id': { kind: 'json', auth: ['account'], params: { id: 'a'.repeat(22) } },
    'GET /v1/events/pages/:id': { kind: 'json', auth: ['account'], params: { id: 'a'.repeat(22) } },
    'POST /v1/availability': {
      kind: 'json',
      auth: ['application'],
      bodies: [
        {
          participants: [{ members: [{ sub: unknownId('acc') }], required: 'all' }],
          required_duration: { minutes: 30 },
          available_periods: [
            { start: `${dataWindow().from}T09:00:00Z`, end: `${dataWindow().from}T17:00:00Z` },
          ],
        },
      ],
    },
    'POST /v1/profiles/:id/revoke': {
      kind: 'json',
      auth: ['account'],
      params: { id: unknownId('pro') },
      bodies: [{ reason: 'x' }],
    },
    'POST /v1/provisioning_runs': {
      kind: 'json',
      auth: ['service_account'],
      bodies: [
        { include: ['users'], callback_url: callback, scope: 'read_write', state: 's', dry_run: true },
      ],
    },
    'GET /v1/provisioning_runs': { kind: 'json', auth: ['service_account'], query: { limit: '5' } },
    'GET /v1/provisioning_runs/:id': {
      kind: 'json',
      auth: ['service_account'],
      params: { id: unknownId('run') },
    },
    'GET /v1/provisioning_runs/:id/items': {
      kind: 'json',
      auth: ['service_account'],
      params: { id: unknownId('run') },
      query: { status: 'failed', cursor: unknownId('itm') },
    },
    'POST /v1/provisioning_runs/:id/retry': {
      kind: 'json',
      auth: ['service_account'],
      params: { id: unknownId('run') },
    },
    'POST /v1/provisioning_runs/:id/cancel': {
      kind: 'json',
      auth: ['service_account'],
      params: { id: unknownId('run') },
    },
    'POST /v1/channels': {
      kind: 'json',
      auth: ['account'],
      bodies: [{ callback_url: callback, filters: { only_managed: 'x', calendar_ids: ['cal_x'] } }],
    },
    'GET /v1/channels': { kind: 'json', auth: ['account'] },
    'DELETE /v1/channels/:id': { kind: 'json', auth: ['account'], params: { id: unknownId('chn') } },
    'GET /enterprise_connect/oauth/authorize': { kind: 'page', auth: [], query: authorizeQuery },
    'POST /enterprise_connect/oauth/authorize': {
      kind: 'page',
      auth: [],
      bodies: [
        {
          ...authorizeQuery,
          csrf: 'not-the-cookie',
          action: 'connect',
          provider: 'microsoft',
          domain: sb?.domain,
          admin_email: 'admin@example.com',
          credentials: '{}',
          tenant_id: sb?.tenantId,
          ms_client_id: sb?.clientId,
          ms_client_secret: sb?.clientSecret,
        },
      ],
      form: true,
    },
    'GET /metrics': { kind: 'loose', auth: ['admin'] },
    'GET /admin': { kind: 'admin', auth: ['admin'], query: { notice: 'retried:1' } },
    'GET /admin/': { kind: 'admin', auth: ['admin'] },
    'GET /admin/runs': { kind: 'admin', auth: ['admin'], query: { notice: 'retried:1' } },
    'GET /admin/runs/:id': {
      kind: 'admin',
      auth: ['admin'],
      params: { id: unknownId('run') },
      query: { notice: 'x', reason: 'user_not_found' },
    },
    'POST /admin/runs/:id/retry': { ...adminForm, params: { id: unknownId('run') } },
    'POST /admin/runs/:id/cancel': { ...adminForm, params: { id: unknownId('run') } },
    'GET /admin/service-accounts': { kind: 'admin', auth: ['admin'] },
    'GET /admin/profiles': { kind: 'admin', auth: ['admin'], query: { reason: 'user_not_found' } },
    'GET /admin/deliveries': { kind: 'admin', auth: ['admin'], query: { notice: 'x' } },
    'POST /admin/deliveries/retry-all': adminForm,
    'POST /admin/deliveries/:id/retry': { ...adminForm, params: { id: unknownId('dlv') } },
    'GET /v1/audit_events': {
      kind: 'json',
      auth: ['application'],
      query: {
        type: 'run.retried',
        object_id: unknownId('run'),
        actor: 'admin',
        from: '2026-01-01T00:00:00Z',
      },
    },
    'GET /admin/failures': {
      kind: 'admin',
      auth: ['admin'],
      query: { email: 'jane', reason: 'user_not_found', run: unknownId('run') },
    },
    'GET /admin/failures.csv': { kind: 'admin', auth: ['admin'], query: { email: 'jane', reason: 'x' } },
    'GET /admin/runs/:id/failures.csv': {
      kind: 'admin',
      auth: ['admin'],
      params: { id: unknownId('run') },
      query: { email: 'jane' },
    },
    'GET /admin/audit': {
      kind: 'admin',
      auth: ['admin'],
      query: { type: 'run.retried', object_id: 'x', actor: 'admin' },
    },
    'GET /admin/service-accounts/:id': { kind: 'admin', auth: ['admin'], params: { id: unknownId('ser') } },
    'GET /admin/service-accounts/:id/diagnostics': {
      kind: 'admin',
      auth: ['admin'],
      params: { id: unknownId('ser') },
    },
  };
}

/** bull-board's own UI and API: GETs are walked loosely; the state-changing ones (pause all…) are not. */
function bullBoardSample(method: string, url: string): Sample | 'skip' {
  if (method !== 'GET') {
    return 'skip';
  }
  const params = Object.fromEntries([...url.matchAll(/:(\w+)/g)].map(([, name]) => [name ?? '', 'x']));
  return { kind: 'loose', auth: ['admin'], params };
}

type Probe = {
  label: string;
  method: string;
  path: string;
  query: string;
  cred: Cred;
  kind: Kind;
  /** Where the hostile text is, and so what the answer must be; 'url' = undecodable URL. */
  at: 'path' | 'query' | 'body' | 'url' | 'none';
  /** The field the 422 must name. */
  field?: string;
  body?: { type: string; text: string };
};

/** Hostile copies of a body: each string (and one key) in turn gets a NUL or an unpaired surrogate. */
function hostileBodies(body: Record<string, unknown>): { field: string; value: unknown; nul: boolean }[] {
  const out: { field: string; value: unknown; nul: boolean }[] = [];
  const walk = (value: unknown, path: string[], replace: (v: unknown) => unknown) => {
    if (typeof value === 'string') {
      for (const [suffix, nul] of [
        ['\u0000', true],
        ['\ud800', false],
      ] as const) {
        out.push({ field: path.join('.'), value: replace(`${value}${suffix}`), nul });
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => {
        walk(v, [...path, String(i)], (nv) => replace(value.map((x, j) => (j === i ? nv : x))));
      });
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        walk(v, [...path, k], (nv) => replace({ ...value, [k]: nv }));
      }
    }
  };
  walk(body, [], (v) => v);
  out.push({ field: 'x', value: { ...body, 'x\u0000': 'y' }, nul: true });
  return out;
}

const formOf = (body: unknown) =>
  new URLSearchParams(
    Object.entries(body as Record<string, unknown>).map(([k, v]): [string, string] => [
      k,
      typeof v === 'string' ? v : JSON.stringify(v),
    ]),
  ).toString();

function probes(method: string, url: string, sample: Sample): Probe[] {
  const out: Probe[] = [];
  const params = sample.params ?? {};
  const fill = (over: Record<string, string>) =>
    url.replace(/:(\w+)/g, (_m, name: string) => over[name] ?? encodeURIComponent(params[name] ?? 'x'));
  const baseQuery = new URLSearchParams(sample.query ?? {}).toString();
  const bodies = sample.bodies ?? [];
  const firstBody = bodies[0];
  const jsonBody = firstBody ? { type: 'application/json', text: JSON.stringify(firstBody) } : undefined;
  const creds: Cred[] = sample.auth.length ? ['none', ...sample.auth] : ['none'];
  for (const cred of creds) {
    const base = { method, cred, kind: sample.kind };
    const label = (what: string) => `${method} ${url} [${cred}] ${what}`;
    for (const name of Object.keys(params)) {
      const valid = encodeURIComponent(params[name] ?? '');
      for (const [raw, at] of [
        ['%00', 'path'],
        [`${valid}%00`, 'path'],
        ['%ff', 'url'],
        [`${valid}%C3%28`, 'url'],
        ['%ED%A0%80', 'url'],
      ] as const) {
        out.push({
          ...base,
          label: label(`:${name}=${raw}`),
          path: fill({ [name]: raw }),
          query: baseQuery,
          at,
          ...(jsonBody ? { body: jsonBody } : {}),
        });
      }
    }
    const keys = [...Object.keys(sample.query ?? {}), 'x'];
    for (const key of keys) {
      for (const [raw, at] of [
        ['%00', 'query'],
        ['a%00b', 'query'],
        ['%ff', 'none'],
        ['%C3%28', 'none'],
        ['%ED%A0%80', 'none'],
      ] as const) {
        const q = new URLSearchParams(sample.query ?? {});
        q.delete(key);
        const rest = q.toString();
        out.push({
          ...base,
          label: label(`?${key}=${raw}`),
          path: fill({}),
          query: `${rest ? `${rest}&` : ''}${encodeURIComponent(key)}=${raw}`,
          at,
          field: key,
          // Undecodable but storable queries may pass: no body, so nothing can be created.
          ...(jsonBody && at === 'query' ? { body: jsonBody } : {}),
        });
      }
    }
    out.push({
      ...base,
      label: label('?%00=x'),
      path: fill({}),
      query: '%00=x',
      at: 'query',
      field: 'querystring',
    });
    for (const body of bodies) {
      for (const h of hostileBodies(body)) {
        out.push({
          ...base,
          label: label(`JSON ${h.field} ${h.nul ? 'NUL' : 'surrogate'}`),
          path: fill({}),
          query: baseQuery,
          at: 'body',
          field: h.field,
          body: { type: 'application/json', text: JSON.stringify(h.value) },
        });
        if (sample.form && h.nul && !h.field.includes('.')) {
          out.push({
            ...base,
            label: label(`form ${h.field} NUL`),
            path: fill({}),
            query: baseQuery,
            at: 'body',
            field: h.field,
            body: { type: 'application/x-www-form-urlencoded', text: formOf(h.value) },
          });
        }
      }
    }
  }
  return out;
}

type Answer = { status: number; type: string; text: string };

/** What was wrong with an answer, or undefined when it is the route's proper refusal. */
function problem(p: Probe, a: Answer): string | undefined {
  if (a.status >= 500) {
    return 'a 5xx';
  }
  if (p.kind === 'loose') {
    // bull-board and /metrics reach no SQL: never a 5xx, and an error says something.
    return a.status >= 400 && a.text.length === 0 ? 'an empty body' : undefined;
  }
  const needsCred = p.kind !== 'token' && p.kind !== 'page' && p.kind !== 'relink';
  const refused = p.at !== 'none';
  if (!refused && a.status < 400) {
    return undefined;
  }
  if (refused && a.status < 400) {
    return 'accepted';
  }
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(a.text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const html = a.type.startsWith('text/html');
  switch (p.kind) {
    case 'token':
      if (refused) {
        return a.status === 400 && json?.error === 'invalid_request' ? undefined : 'not 400 invalid_request';
      }
      return typeof json?.error === 'string' ? undefined : 'not an RFC 6749 error';
    case 'relink':
      if (!html) {
        return 'not an HTML page';
      }
      if (p.at === 'path' || p.at === 'url') {
        return a.status === 404 && a.text.includes('This link does not work')
          ? undefined
          : 'not the 404 page';
      }
      return undefined;
    case 'page':
      return html ? undefined : 'not an HTML page';
    case 'admin':
      if (p.cred === 'none' && p.at !== 'url') {
        return a.status === 401 ? undefined : 'not 401';
      }
      if (!html) {
        return 'not an HTML page';
      }
      if (p.at === 'path') {
        return a.status === 404 ? undefined : 'not 404';
      }
      return undefined;
    case 'json': {
      const error = json?.error as { code?: unknown; message?: unknown; requestId?: unknown } | undefined;
      const errors = json?.errors as Record<string, { key?: unknown; description?: unknown }[]> | undefined;
      const wellFormed =
        (typeof error?.code === 'string' &&
          typeof error.message === 'string' &&
          typeof error.requestId === 'string') ||
        (typeof errors === 'object' &&
          errors !== null &&
          Object.values(errors).every(
            (list) =>
              Array.isArray(list) &&
              list.every((e) => typeof e.key === 'string' && typeof e.description === 'string'),
          ));
      if (!wellFormed) {
        return 'not our JSON error shape';
      }
      if (p.at === 'url') {
        return a.status === 400 && error?.code === 'bad_request' ? undefined : 'not 400 bad_request';
      }
      if (needsCred && p.cred === 'none' && p.kind === 'json' && a.status === 401) {
        return undefined;
      }
      if (p.at === 'path') {
        return a.status === 404 && error?.code === 'not_found' ? undefined : 'not 404 not_found';
      }
      if (p.at === 'query' || p.at === 'body') {
        return a.status === 422 && errors?.[p.field ?? ''] ? undefined : `not 422 naming "${p.field}"`;
      }
      return undefined;
    }
  }
}

async function send(p: Probe): Promise<Answer> {
  const res = await fetch(`${t.url}${p.path}${p.query ? `?${p.query}` : ''}`, {
    method: p.method,
    headers: { ...headers[p.cred], ...(p.body ? { 'content-type': p.body.type } : {}) },
    ...(p.body ? { body: p.body.text } : {}),
    redirect: 'manual',
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/**
 * Every stored row that matters, as one digest per table — but the outbox, whose attempts the delivery
 * pump records while the probes run.
 */
const snapshot = () =>
  storedDigest(
    t.runtime.app.db,
    STORED_TABLES.filter((table) => table !== 'outbound_deliveries'),
  );

beforeAll(async () => {
  const app = await t.createApplication(['https://app.example.com/cb']);
  const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
  const [user, other] = await usableUsers(t, 'microsoft', 2);
  const account = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
  headers.application = { authorization: `Bearer ${app.clientSecret}` };
  headers.service_account = { authorization: `Bearer ${sa.access_token}` };
  headers.account = { authorization: `Bearer ${account.access_token}` };
  const profiles = (account.linking_profile as { profile_id: string } | undefined)?.profile_id ?? '';
  Object.assign(ctx, {
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    serviceAccountId: sa.service_account_id,
    profileId: profiles,
    refreshToken: account.refresh_token,
    otherEmail: other?.email ?? '',
  });
  // Let the authorization's own callbacks settle before the "nothing changes" snapshot.
  await new Promise((r) => setTimeout(r, 500));
});

describe('hostile text in a request never reaches SQL', () => {
  it('every route refuses NUL, unpaired surrogates and undecodable URLs with its own 4xx', async () => {
    const table = routeTable(t.server.printRoutes({ commonPrefix: false })).filter(
      (r) => r.method !== 'HEAD' && !r.url.includes('*'),
    );
    expect(table.length).toBeGreaterThan(40);
    const known = samples();
    const missing: string[] = [];
    const all: Probe[] = [];
    for (const { method, url } of table) {
      const key = `${method} ${url}`;
      const sample = url.startsWith('/admin/queues') ? bullBoardSample(method, url) : known[key];
      if (sample === undefined) {
        missing.push(key);
      } else if (sample !== 'skip') {
        all.push(...probes(method, url, sample));
      }
    }
    expect(missing, 'routes without a sample in this test').toEqual([]);
    expect(
      Object.keys(known).filter((k) => !table.some((r) => `${r.method} ${r.url}` === k)),
      'samples without a route',
    ).toEqual([]);

    const before = await snapshot();
    const failures: string[] = [];
    for (let i = 0; i < all.length; i += 16) {
      await Promise.all(
        all.slice(i, i + 16).map(async (p) => {
          const a = await send(p);
          const why = problem(p, a);
          if (why) {
            failures.push(`${p.label}: ${why} → ${a.status} ${a.type} ${a.text.slice(0, 160)}`);
          }
        }),
      );
    }
    expect(failures, `${failures.length} of ${all.length} probes`).toEqual([]);
    expect(await snapshot()).toEqual(before);

    // The credentials used throughout still work, and so does the refresh token.
    for (const [cred, path] of [
      ['account', '/v1/account'],
      ['service_account', '/v1/provisioning_runs'],
      ['application', `/v1/service_accounts/${ctx.serviceAccountId}`],
    ] as const) {
      const res = await fetch(`${t.url}${path}`, { headers: headers[cred] });
      expect(res.status, `${cred} ${path}`).toBe(200);
    }
    const refreshed = await fetch(`${t.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'refresh_token',
        client_id: ctx.clientId,
        client_secret: ctx.clientSecret,
        refresh_token: ctx.refreshToken,
      }),
    });
    expect(refreshed.status, await refreshed.text()).toBe(200);
  }, 300_000);
});

describe('Postgres refusing input that got past the guard', () => {
  it('is a 400 in the route’s error shape, not a 500', async () => {
    const db = t.runtime.app.db;
    const server = Fastify();
    server.setErrorHandler(errorHandler);
    const refusals = {
      nul: () => db.execute(sql`select ${'a\u0000b'}::text`),
      jsonb: () => db.execute(sql`select ${JSON.stringify({ a: '\u0000' })}::jsonb`),
      surrogate: () => db.execute(sql`select ${'{"a":"\\ud800"}'}::jsonb`),
      uuid: () => db.execute(sql`select ${'not-a-uuid'}::uuid`),
    };
    for (const [name, run] of Object.entries(refusals)) {
      server.get(`/${name}`, async () => run());
    }
    server.post('/oauth/token', async () => refusals.nul());
    server.get('/bug', async () => db.execute(sql`select * from no_such_table`));
    try {
      for (const name of Object.keys(refusals)) {
        const res = await server.inject({ method: 'GET', url: `/${name}` });
        expect(res.statusCode, `${name}: ${res.body}`).toBe(400);
        expect(res.json()).toMatchObject({ error: { code: 'bad_request' } });
      }
      const token = await server.inject({ method: 'POST', url: '/oauth/token' });
      expect(token.statusCode).toBe(400);
      expect(token.json()).toMatchObject({ error: 'invalid_request' });
      // Our own SQL mistakes stay 500s.
      expect((await server.inject({ method: 'GET', url: '/bug' })).statusCode).toBe(500);
    } finally {
      await server.close();
    }
  });
});
