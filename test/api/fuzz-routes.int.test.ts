import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { fillPath, isThirdPartyRoute, liveRoutes } from '../helpers/routes.js';
import { storedDigest } from '../helpers/stored.js';

// Property-based requests over every route of the live route table (fast-check): values of 100 kB,
// JSON nested 10,000 deep, duplicate query and form parameters, wrong content types, arrays and
// objects where strings are expected — with each kind of credential. Every answer is below 500; an
// error has the route's documented shape (token endpoints `{error}`, the JSON API `{error:{code,
// message}}` or `{errors:{…}}`, pages HTML, admin text); and nothing stored changes.
const ADMIN_TOKEN = 'fuzz-routes-admin-token-0123456789';
const t = useTestApp({
  sandbox: { google: false, microsoft: { users: 8, rooms: 2 } },
  env: { ADMIN_TOKEN },
});
const receiver = useReceiver();
const creds: Record<string, string | undefined> = { none: undefined, admin: ADMIN_TOKEN };
const ids: Record<string, string> = {};

beforeAll(async () => {
  const app = await t.createApplication(['https://app.example.com/cb']);
  const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
  const [user] = await usableUsers(t, 'microsoft');
  const account = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
  creds.application = app.clientSecret;
  creds.service_account = sa.access_token;
  creds.account = account.access_token;
  ids.sa = sa.service_account_id;
  ids.profile = (account.linking_profile as { profile_id: string }).profile_id;
  ids.clientId = app.clientId;
  // Let the authorization's own callback settle before the "nothing changes" digest.
  await new Promise((r) => setTimeout(r, 1_500));
}, 60_000);

const BIG = 'x'.repeat(100 * 1024);
const deepArray = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
const deepObject = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
/** Field names the routes read, so wrong types reach their validation rather than "unknown field". */
const FIELDS = [
  'grant_type',
  'client_id',
  'client_secret',
  'code',
  'refresh_token',
  'redirect_uri',
  'token',
  'sub',
  'provider',
  'domain',
  'credentials',
  'email',
  'callback_url',
  'scope',
  'state',
  'include',
  'service_account_authorizations',
  'csrf',
  'action',
];
const hostileValue = fc.oneof(
  fc.constant(BIG),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.record({ nested: fc.string() }),
  fc.constant(null),
  fc.integer(),
  fc.constant('\u0000'),
  fc.constant('\ud800'),
);
type Body = { type?: string; body?: string; label: string };
// Every field a route might read gets a hostile value at once (unknown fields are ignored, as
// Cronofy does, so a body naming only fields a route does not read would be a valid request).
const everyField = <T>(value: fc.Arbitrary<T>) =>
  fc.tuple(...FIELDS.map(() => value)).map((values) => FIELDS.map((f, i) => [f, values[i]] as const));
const body: fc.Arbitrary<Body> = fc.oneof(
  everyField(hostileValue).map((pairs) => ({
    type: 'application/json',
    body: JSON.stringify(Object.fromEntries(pairs)),
    label: 'hostile JSON fields',
  })),
  fc.constant({ type: 'application/json', body: deepArray, label: 'array nested 10,000 deep' }),
  fc.constant({ type: 'application/json', body: deepObject, label: 'object nested 10,000 deep' }),
  fc.constant({
    type: 'application/json',
    body: JSON.stringify(Object.fromEntries(FIELDS.map((f) => [f, BIG]))),
    label: '100 kB values',
  }),
  everyField(fc.constantFrom('a', '%00', BIG.slice(0, 2_000))).map((pairs) => ({
    type: 'application/x-www-form-urlencoded',
    // Each field twice: duplicate parameters.
    body: [...pairs, ...pairs]
      .map(([k, v]) => `${k}=${v === '%00' ? v : encodeURIComponent(v ?? '')}`)
      .join('&'),
    label: 'duplicate form parameters',
  })),
  fc.constantFrom(
    { type: 'text/plain', body: '{"grant_type":"refresh_token"}', label: 'JSON as text/plain' },
    { type: 'application/xml', body: '<a>1</a>', label: 'XML' },
    { type: 'multipart/form-data; boundary=x', body: '--x\r\nnot really\r\n--x--', label: 'multipart' },
    { type: 'application/json', body: 'grant_type=refresh_token', label: 'a form as JSON' },
    { type: 'application/json', body: '{"a":1', label: 'truncated JSON' },
  ),
);
const query = fc.oneof(
  fc.constant(''),
  fc
    .array(
      fc.tuple(
        fc.constantFrom('limit', 'cursor', 'status', 'include_details', 'client_id', 'state', 'scope'),
        fc.constantFrom('1', '2', 'true', BIG.slice(0, 4_000), '%00'),
      ),
      {
        minLength: 2,
        maxLength: 5,
      },
    )
    .map((pairs) =>
      [...pairs, pairs[0] as [string, string]]
        .map(([k, v]) => `${k}=${v === '%00' ? v : encodeURIComponent(v)}`)
        .join('&'),
    ),
);
const param = fc.oneof(
  fc.constant('real'),
  fc.constant(BIG.slice(0, 5_000)),
  fc.constant('%ff%fe'),
  fc.constant('..%2F..%2Fetc'),
  fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent),
);

/** The documented error shapes. */
function shapeOk(url: string, status: number, type: string, text: string): boolean {
  if (status < 400) {
    return true;
  }
  if (status === 431 || status === 414) {
    // Request line or headers over Node's 16 KB limit: refused by the HTTP parser before any route.
    return text.includes('Too Large') || text.includes('Too Long');
  }
  if (url.startsWith('/enterprise_connect') || url.startsWith('/relink') || url.startsWith('/admin')) {
    return (
      type.startsWith('text/html') || type.startsWith('text/plain') || type.startsWith('application/json')
    );
  }
  if (url === '/metrics') {
    return text.length > 0;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  const j = json as { error?: unknown; errors?: unknown };
  if (url.startsWith('/oauth/token')) {
    return typeof j.error === 'string';
  }
  const e = j.error as { code?: unknown; message?: unknown } | undefined;
  return (typeof e?.code === 'string' && typeof e.message === 'string') || typeof j.errors === 'object';
}

describe('property-based hostile requests over every route', () => {
  it('never a 5xx, errors in the documented shape, nothing stored changes', async () => {
    const routes = liveRoutes(t.server).filter(
      (r) => !r.url.startsWith('/docs') || !isThirdPartyRoute(r.url),
    );
    expect(routes.length).toBeGreaterThan(40);
    const before = await storedDigest(t.runtime.app.db);
    const failures: string[] = [];
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        body,
        query,
        param,
        fc.constantFrom(...Object.keys(creds)),
        async (route, b, q, p, who) => {
          const real = {
            id: route.url.includes('service') ? (ids.sa ?? '') : (ids.profile ?? ''),
            profileId: ids.profile ?? '',
          };
          // Real ids only for reads: a valid revoke or delete would change what is stored, rightly.
          const path =
            p === 'real' && route.method === 'GET'
              ? fillPath(route.url, real)
              : route.url.replace(/:(\w+)/g, p === 'real' ? 'unknown' : p);
          // The admin token's state-changing actions (pause a queue, retry every dead delivery) take
          // no input: any body is a valid request for them.
          const token = who === 'admin' && route.method !== 'GET' ? undefined : creds[who];
          const withBody = route.method !== 'GET' && route.method !== 'DELETE';
          const res = await fetch(`${t.url}${path}${q ? `?${q}` : ''}`, {
            method: route.method,
            redirect: 'manual',
            headers: {
              ...(token ? { authorization: `Bearer ${token}` } : {}),
              ...(withBody && b.type ? { 'content-type': b.type } : {}),
            },
            ...(withBody && b.body !== undefined ? { body: b.body } : {}),
          });
          const text = await res.text();
          requests += 1;
          const type = res.headers.get('content-type') ?? '';
          // A hostile request changing something would be accepted: only reads may answer 2xx/3xx.
          const accepted = res.status < 400 && route.method !== 'GET';
          if (accepted || res.status >= 500 || !shapeOk(route.url, res.status, type, text)) {
            failures.push(
              `${route.method} ${route.url} [${b.label}, ${who}] → ${res.status} ${text.slice(0, 160)}`,
            );
          }
        },
      ),
      { numRuns: 600, seed: 1301 },
    );
    expect(failures).toEqual([]);
    expect(requests).toBe(600);
    expect(await storedDigest(t.runtime.app.db)).toEqual(before);
  }, 300_000);

  it('refuses a body nesting deeper than 32 levels: 422 naming the body, 400 invalid_request at /oauth/token', async () => {
    const nested = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const post = (path: string, body: string) =>
      fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${creds.service_account}`, 'content-type': 'application/json' },
        body,
      });
    const deep = await post('/v1/provisioning_runs', nested(33));
    expect(deep.status).toBe(422);
    expect(await deep.text()).toContain('more than 32 levels');
    const token = await post('/oauth/token', nested(40));
    expect(token.status).toBe(400);
    expect(((await token.json()) as { error: string }).error).toBe('invalid_request');
    // 32 levels are fine for the guard (the route then ignores the unknown field, as Cronofy does).
    const ok = await post('/v1/provisioning_runs', `{"include":["rooms"],"dry_run":true,"x":${nested(30)}}`);
    expect(ok.status).toBe(202);
  });
});
