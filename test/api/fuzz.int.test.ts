import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';

// Throws malformed bodies, query strings and headers at every route: the answer must always be a
// 4xx with a JSON (or HTML, for the authorize page) body explaining it — never a 5xx, never a hang.
const t = useTestApp({ sandbox: { google: false, microsoft: { users: 10, rooms: 2 } } });
const receiver = useReceiver();

const creds: Record<'none' | 'application' | 'service_account' | 'account' | 'garbage', string | undefined> =
  {
    none: undefined,
    application: undefined,
    service_account: undefined,
    account: undefined,
    garbage: 'Bearer %00<script>\'"',
  };

beforeAll(async () => {
  const app = await t.createApplication(['https://app.example.com/cb']);
  const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
  const [user] = await usableUsers(t, 'microsoft');
  const account = await authorizeAccount(t, receiver, app, sa, user?.email ?? '');
  creds.application = `Bearer ${app.clientSecret}`;
  creds.service_account = `Bearer ${sa.access_token}`;
  creds.account = `Bearer ${account.access_token}`;
});

const ROUTES: [string, string][] = [
  ['POST', '/oauth/token'],
  ['POST', '/oauth/token/revoke'],
  ['POST', '/v1/service_accounts'],
  ['GET', '/v1/service_accounts/ser_aaaaaaaaaaaaaaaaaaaaaaaaaa'],
  ['DELETE', '/v1/service_accounts/not-an-id'],
  ['POST', '/v1/service_account_authorizations'],
  ['GET', '/v1/resources'],
  ['GET', '/v1/userinfo'],
  ['GET', '/v1/account'],
  ['GET', '/v1/profiles'],
  ['GET', '/v1/calendars'],
  ['POST', '/v1/profiles/pro_x/revoke'],
  ['POST', '/v1/channels'],
  ['GET', '/v1/channels'],
  ['DELETE', '/v1/channels/chn_x'],
  ['POST', '/v1/provisioning_runs'],
  ['GET', '/v1/provisioning_runs/run_aaaaaaaaaaaaaaaaaaaaaaaaaa/items'],
  ['POST', '/v1/provisioning_runs/run_x/retry'],
  ['GET', '/enterprise_connect/oauth/authorize'],
  ['POST', '/enterprise_connect/oauth/authorize'],
];

/** Bodies that are wrong in every way: arbitrary JSON, near-miss shapes, wrong types, huge strings. */
const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      grant_type: fc.oneof(
        fc.constantFrom('authorization_code', 'refresh_token', 'password', ''),
        fc.anything(),
      ),
      client_id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      client_secret: fc.oneof(fc.string(), fc.array(fc.string())),
      code: fc.string(),
      redirect_uri: fc.oneof(fc.webUrl(), fc.string()),
      provider: fc.oneof(fc.constantFrom('google', 'microsoft', 'yahoo'), fc.anything()),
      domain: fc.oneof(fc.domain(), fc.string(), fc.constant(42)),
      credentials: fc.oneof(
        fc.string(),
        fc.jsonValue(),
        fc.record({ type: fc.constant('service_account'), private_key: fc.string() }),
      ),
      email: fc.oneof(fc.emailAddress(), fc.string()),
      callback_url: fc.oneof(fc.webUrl(), fc.string(), fc.constant('http://127.0.0.1:1/x')),
      scope: fc.oneof(fc.constantFrom('read_write', 'read_only', 'root'), fc.string()),
      state: fc.oneof(fc.string(), fc.integer()),
      service_account_authorizations: fc.oneof(fc.array(fc.anything(), { maxLength: 5 }), fc.string()),
      token: fc.string(),
      sub: fc.string(),
      include: fc.oneof(fc.array(fc.constantFrom('users', 'rooms', 'printers')), fc.string(), fc.anything()),
      verify: fc.oneof(fc.constantFrom('mailbox', 'directory'), fc.anything()),
      dry_run: fc.oneof(fc.boolean(), fc.string()),
    },
    { requiredKeys: [] },
  ),
);

const rawBody = fc.oneof(
  jsonBody.map((v) => ({ type: 'application/json', body: JSON.stringify(v) ?? 'null' })),
  fc.string({ maxLength: 200 }).map((s) => ({ type: 'application/json', body: s })),
  fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 50 }), { maxKeys: 6 }).map((d) => ({
    type: 'application/x-www-form-urlencoded',
    body: new URLSearchParams(d).toString(),
  })),
  fc.string({ maxLength: 100 }).map((s) => ({ type: 'text/plain', body: s })),
  // Over the 1 MiB body limit (shown in failures by its size only).
  fc.constant({
    type: 'application/json',
    body: `{"a":"${'x'.repeat(1024 * 1024 + 10)}"}`,
    toString: () => 'oversized body',
  }),
);

const query = fc.dictionary(
  fc.constantFrom(
    'include_details',
    'client_id',
    'redirect_uri',
    'scope',
    'state',
    'response_type',
    'x',
    'include_details[]',
  ),
  fc.oneof(fc.string({ maxLength: 40 }), fc.constant('true')),
  { maxKeys: 4 },
);

describe('malformed input never causes a 5xx', () => {
  it.each(ROUTES)('%s %s', async (method, path) => {
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(
        rawBody,
        query,
        fc.constantFrom(...(Object.keys(creds) as (keyof typeof creds)[])),
        async (body, q, who) => {
          const qs = new URLSearchParams(q).toString();
          const auth = creds[who];
          const res = await fetch(`${t.url}${path}${qs ? `?${qs}` : ''}`, {
            method,
            headers: {
              ...(auth ? { authorization: auth } : {}),
              ...(method === 'GET' ? {} : { 'content-type': body.type }),
            },
            ...(method === 'GET' ? {} : { body: body.body }),
          });
          const text = await res.text();
          requests += 1;
          expect(
            res.status,
            `${method} ${path} ${body.body.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`,
          ).toBeLessThan(500);
          if (res.status >= 400) {
            expect(text.length, `empty error body for ${res.status}`).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 250 },
    );
    expect(requests).toBe(250);
  });
});
