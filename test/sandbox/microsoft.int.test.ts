import { InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import {
  BatchRequestContent,
  BatchResponseContent,
  GraphError,
  type PageCollection,
  PageIterator,
} from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Sandbox, type SandboxRoom, type SandboxUser, startSandbox } from '../../src/sandbox/index.js';
import { fetchGraphToken, graphClient, graphToken, msalApp, rejection, sbMicrosoft } from './sdk.js';

const USERS = 1500;
const ROOMS = 120;
const GRAPH_SCOPE = ['https://graph.microsoft.com/.default'];
let sb: Sandbox;
let users: SandboxUser[];
let rooms: SandboxRoom[];

function graphError(err: unknown, status: number, code: string): GraphError {
  expect(err).toBeInstanceOf(GraphError);
  const e = err as GraphError;
  expect([e.statusCode, e.code]).toEqual([status, code]);
  expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/);
  return e;
}

function aad(err: unknown): ServerError {
  expect(err).toBeInstanceOf(ServerError);
  return err as ServerError;
}

beforeAll(async () => {
  // graph-client over HTTP keeps Graph's own origin and rewrites it in its transport, so the links
  // it follows must name https://graph.microsoft.com, as production does.
  sb = await startSandbox({
    seed: 9,
    google: false,
    microsoft: { users: USERS, rooms: ROOMS },
    graphLinkOrigin: 'https://graph.microsoft.com',
  });
  users = [];
  for (let offset = 0; offset < USERS; offset += 1000) {
    users.push(...(await sb.control.listUsers('microsoft', { offset, limit: 1000 })).users);
  }
  rooms = (await sb.control.listRooms('microsoft', { limit: 1000 })).rooms;
});
afterAll(() => sb.close());

const find = (pred: (u: SandboxUser) => boolean) => {
  const u = users.find(pred);
  if (!u) {
    throw new Error('the generated org lacks the case this test needs');
  }
  return u;
};

/** Every item PageIterator reaches, and how many pages the sandbox served for `route`. */
async function allPages(
  client: ReturnType<typeof graphClient>,
  path: string,
  route: string,
): Promise<{ items: Record<string, unknown>[]; pages: number }> {
  const before = (await sb.control.counters()).calls[`GET ${route} 200`] ?? 0;
  const items: Record<string, unknown>[] = [];
  const first: PageCollection = await client.api(path).get();
  const iterator = new PageIterator(client, first, (item: Record<string, unknown>) => {
    items.push(item);
    return true;
  });
  await iterator.iterate();
  const after = (await sb.control.counters()).calls[`GET ${route} 200`] ?? 0;
  return { items, pages: after - before };
}

describe('Entra token endpoint', () => {
  test('msal-node gets a client-credentials token through the sandbox, then serves it from cache', async () => {
    await sb.control.resetCounters();
    const app = msalApp(sb);
    const first = await app.acquireTokenByClientCredential({ scopes: GRAPH_SCOPE });
    const second = await app.acquireTokenByClientCredential({ scopes: GRAPH_SCOPE });
    expect(first?.accessToken.split('.')).toHaveLength(3);
    expect(second?.fromCache).toBe(true);
    expect((await sb.control.counters()).tokensIssued.microsoft).toBe(1);
  });

  test('a wrong secret, an expired secret and an unknown app are AADSTS errors', async () => {
    const wrong = aad(
      await rejection(
        msalApp(sb, { clientSecret: 'not-the-secret' }).acquireTokenByClientCredential({
          scopes: GRAPH_SCOPE,
        }),
      ),
    );
    expect([wrong.errorCode, String(wrong.errorNo), wrong.status]).toEqual([
      'invalid_client',
      '7000215',
      401,
    ]);

    await sb.control.setSecret({ expired: true });
    try {
      const expired = aad(
        await rejection(msalApp(sb).acquireTokenByClientCredential({ scopes: GRAPH_SCOPE })),
      );
      expect([expired.errorCode, String(expired.errorNo)]).toEqual(['invalid_client', '7000222']);
    } finally {
      await sb.control.setSecret({ expired: false });
    }

    const unknown = await fetchGraphToken(sb, { client_id: '00000000-0000-4000-8000-000000000000' });
    expect([unknown.status, unknown.body.error, unknown.body.error_codes]).toEqual([
      400,
      'unauthorized_client',
      [700016],
    ]);
    const tenant = await fetchGraphToken(sb, {}, 'contoso.invalid');
    expect([tenant.status, tenant.body.error_codes]).toEqual([400, [90002]]);
    const scope = await fetchGraphToken(sb, { scope: 'User.Read.All' });
    expect([scope.status, scope.body.error, scope.body.error_codes]).toEqual([
      400,
      'invalid_scope',
      [1002012],
    ]);
    expect(String(scope.body.error_description)).toMatch(/^AADSTS1002012: .*\r\nTrace ID: /s);
  });

  test('a rotated secret: the old one gives AADSTS7000215, the new one works', async () => {
    const old = sbMicrosoft(sb).clientSecret;
    const { clientSecret } = await sb.control.setSecret({ rotate: true });
    expect(clientSecret).not.toBe(old);
    expect(sbMicrosoft(sb).clientSecret).toBe(clientSecret);
    const err = aad(
      await rejection(
        msalApp(sb, { clientSecret: old }).acquireTokenByClientCredential({ scopes: GRAPH_SCOPE }),
      ),
    );
    expect(String(err.errorNo)).toBe('7000215');
    expect(
      (await msalApp(sb).acquireTokenByClientCredential({ scopes: GRAPH_SCOPE }))?.accessToken,
    ).toBeTruthy();
  });

  test('missing consent: AADSTS65001, AADSTS7000229, or a token whose Graph calls get 403', async () => {
    const token = await graphToken(sb);
    const client = graphClient(sb, async () => token);
    const mailbox = find((u) => u.mailbox && !u.accessDenied && !u.suspended).email;
    await sb.control.setConsent({ granted: false, mode: 'consent_required' });
    try {
      const e = await rejection(msalApp(sb).acquireTokenByClientCredential({ scopes: GRAPH_SCOPE }));
      // MSAL raises consent_required as its interaction-required error, not a ServerError.
      expect(e).toBeInstanceOf(InteractionRequiredAuthError);
      const interaction = e as InteractionRequiredAuthError;
      expect([interaction.errorCode, interaction.subError]).toEqual(['invalid_grant', 'consent_required']);
      expect(interaction.errorMessage).toContain('AADSTS65001');
      // A token issued before the revocation no longer opens anything.
      graphError(await rejection(client.api(`/users/${mailbox}/calendar`).get()), 403, 'ErrorAccessDenied');
      graphError(await rejection(client.api('/users').get()), 403, 'Authorization_RequestDenied');

      await sb.control.setConsent({ granted: false, mode: 'service_principal_missing' });
      const sp = await fetchGraphToken(sb);
      expect([sp.status, sp.body.error, sp.body.error_codes]).toEqual([401, 'invalid_client', [7000229]]);

      await sb.control.setConsent({ granted: false, mode: 'roles_missing' });
      const rolesless = await graphToken(sb);
      graphError(
        await rejection(
          graphClient(sb, async () => rolesless)
            .api('/places/microsoft.graph.room')
            .get(),
        ),
        403,
        'ErrorAccessDenied',
      );
    } finally {
      await sb.control.setConsent({ granted: true });
    }
    const fresh = await graphToken(sb);
    expect(
      (
        await graphClient(sb, async () => fresh)
          .api(`/users/${mailbox}/calendar`)
          .get()
      ).name,
    ).toBe('Calendar');
  });
});

describe('Graph', () => {
  test('/users with $select and $top=999: PageIterator reaches the last page; rooms and shared mailboxes are disabled accounts', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    const { items, pages } = await allPages(
      client,
      '/users?$select=id,userPrincipalName,mail,displayName,accountEnabled&$top=999',
      '/v1.0/users',
    );
    expect(pages).toBe(2);
    expect(items).toHaveLength(USERS + ROOMS);
    expect(Object.keys(items[0] ?? {}).sort()).toEqual([
      'accountEnabled',
      'displayName',
      'id',
      'mail',
      'userPrincipalName',
    ]);
    expect(items.slice(0, USERS).map((u) => u.userPrincipalName)).toEqual(users.map((u) => u.email));
    expect(items.slice(USERS).map((u) => u.mail)).toEqual(rooms.map((r) => r.email));
    expect(items.slice(USERS).every((u) => u.accountEnabled === false)).toBe(true);
    const shared = find((u) => u.shared);
    expect(items.find((u) => u.userPrincipalName === shared.email)?.accountEnabled).toBe(false);
    expect(items.find((u) => u.userPrincipalName === find((u) => !u.mailbox).email)?.mail).toBeNull();
  });

  test('/users pages of 100 by default; a bad $skiptoken or $top is a 400 GraphError', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    const page = await client.api('/users').get();
    expect(page.value).toHaveLength(100);
    expect(page['@odata.nextLink']).toMatch(/^https:\/\/graph\.microsoft\.com\/v1\.0\/users\?\$skiptoken=/);
    expect(page.value[0]).not.toHaveProperty('accountEnabled');
    graphError(
      await rejection(client.api('/users?$skiptoken=bm9wZQ').get()),
      400,
      'Directory_ExpiredPageToken',
    );
    graphError(await rejection(client.api('/users?$top=1000').get()), 400, 'Request_UnsupportedQuery');
    graphError(await rejection(client.api('/users?$select=nonsense').get()), 400, 'BadRequest');
    graphError(
      await rejection(client.api("/users?$filter=startswith(displayName,'A')").get()),
      400,
      'Request_UnsupportedQuery',
    );
    const enabled = await client
      .api('/users?$filter=accountEnabled eq true&$select=accountEnabled&$top=999')
      .get();
    const enabledTruth = users.filter((u) => !u.suspended && !u.shared).length;
    const second = await client.api(enabled['@odata.nextLink']).get();
    expect(enabled.value.length + second.value.length).toBe(enabledTruth);
    expect(second['@odata.nextLink']).toBeUndefined();
    expect(
      [...enabled.value, ...second.value].every((u: { accountEnabled: boolean }) => u.accountEnabled),
    ).toBe(true);
  });

  test('/users/{id|upn}: by GUID and by UPN (any case); unknown users 404 Request_ResourceNotFound', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    const u = find((x) => /[A-Z]/.test(x.email));
    expect((await client.api(`/users/${u.id}`).get()).userPrincipalName).toBe(u.email);
    expect((await client.api(`/users/${encodeURIComponent(u.email.toLowerCase())}`).get()).id).toBe(u.id);
    graphError(
      await rejection(client.api('/users/nobody@nowhere.example').get()),
      404,
      'Request_ResourceNotFound',
    );
  });

  test('rooms, room lists and the rooms of one list', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    const { items, pages } = await allPages(
      client,
      '/places/microsoft.graph.room?$top=50',
      '/v1.0/places/microsoft.graph.room',
    );
    expect(pages).toBe(3);
    expect(items.map((r) => r.emailAddress)).toEqual(rooms.map((r) => r.email));
    expect(items.some((r) => r.capacity === null)).toBe(true);
    expect(items.some((r) => r.building === null)).toBe(true);
    const lists = (await client.api('/places/microsoft.graph.roomlist').get()).value as {
      emailAddress: string;
      displayName: string;
    }[];
    expect(lists.length).toBeGreaterThan(1);
    for (const list of lists) {
      const inList = await allPages(
        client,
        `/places/${list.emailAddress}/microsoft.graph.roomlist/rooms?$top=10`,
        '/v1.0/places/:list/microsoft.graph.roomlist/rooms',
      );
      const building = list.displayName.replace(/ Rooms$/, '');
      expect(inList.items.map((r) => r.emailAddress)).toEqual(
        rooms.filter((r) => r.building === building).map((r) => r.email),
      );
    }
    graphError(
      await rejection(client.api('/places/nolist@example.com/microsoft.graph.roomlist/rooms').get()),
      404,
      'ErrorItemNotFound',
    );
  });

  test('/users/{id}/calendar and /calendars for a user and a room', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    const u = find((x) => x.mailbox && !x.accessDenied && x.secondaryCalendars > 0);
    const cal = await client.api(`/users/${u.id}/calendar`).get();
    expect(cal).toMatchObject({ name: 'Calendar', isDefaultCalendar: true, owner: { address: u.email } });
    const cals = await client.api(`/users/${encodeURIComponent(u.email)}/calendars`).get();
    expect(cals.value).toHaveLength(1 + u.secondaryCalendars);
    const room = rooms[0];
    expect((await client.api(`/users/${room?.email}/calendar`).get()).owner.address).toBe(room?.email);
  });

  test('per-mailbox errors: MailboxNotEnabledForRESTAPI, ErrorInvalidUser, ErrorAccessDenied (access policy), 401s', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    graphError(
      await rejection(client.api(`/users/${find((u) => !u.mailbox).email}/calendar`).get()),
      404,
      'MailboxNotEnabledForRESTAPI',
    );
    graphError(
      await rejection(client.api('/users/ghost@nowhere.example/calendar').get()),
      404,
      'ErrorInvalidUser',
    );
    const raop = graphError(
      await rejection(client.api(`/users/${find((u) => u.accessDenied).email}/calendar`).get()),
      403,
      'ErrorAccessDenied',
    );
    expect(raop.message).toContain('[RAOP]');
    graphError(
      await rejection(
        graphClient(sb, async () => 'garbage')
          .api('/users')
          .get(),
      ),
      401,
      'InvalidAuthenticationToken',
    );
    const bare = await fetch(`${sb.url}/v1.0/users`);
    const body = (await bare.json()) as {
      error: { code: string; message: string; innerError: Record<string, string> };
    };
    expect([bare.status, body.error.code, body.error.message]).toEqual([
      401,
      'InvalidAuthenticationToken',
      'Access token is empty.',
    ]);
    expect(Object.keys(body.error.innerError).sort()).toEqual(['client-request-id', 'date', 'request-id']);
  });

  test('$batch (graph-client BatchRequestContent): each request answered and counted as its own; bad payloads are 400', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    const normal = find((u) => u.mailbox && !u.accessDenied && !u.suspended);
    const noMailbox = find((u) => !u.mailbox);
    const get = (id: string, url: string) => ({
      id,
      request: new Request(`https://graph.microsoft.com/v1.0${url}`, { method: 'GET' }),
    });
    const content = new BatchRequestContent([
      get('ok', `/users/${normal.email}/calendars?$select=id,name&$top=50`),
      get('none', `/users/${noMailbox.email}/calendars`),
      get('ghost', '/users/ghost@nowhere.example/calendars'),
    ]);
    const before = await sb.control.counters();
    const raw = await client.api('/$batch').post(await content.getContent());
    const answers = new BatchResponseContent(raw);
    const ok = answers.getResponseById('ok');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { value: unknown[] }).value).toHaveLength(1 + normal.secondaryCalendars);
    const none = answers.getResponseById('none');
    expect([none.status, ((await none.json()) as { error: { code: string } }).error.code]).toEqual([
      404,
      'MailboxNotEnabledForRESTAPI',
    ]);
    expect(answers.getResponseById('ghost').status).toBe(404);
    const after = await sb.control.counters();
    expect(after.batches.envelopes - before.batches.envelopes).toBe(1);
    expect(after.batches.requests - before.batches.requests).toBe(3);
    const route = 'GET /v1.0/users/:id/calendars';
    expect((after.calls[`${route} 200`] ?? 0) - (before.calls[`${route} 200`] ?? 0)).toBe(1);
    expect((after.calls[`${route} 404`] ?? 0) - (before.calls[`${route} 404`] ?? 0)).toBe(2);
    expect(after.calls['POST /v1.0/$batch 200']).toBeUndefined();

    // Without a token the batch is answered, and each request is refused as it would be alone.
    const bare = await fetch(`${sb.url}/v1.0/$batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ id: '1', method: 'GET', url: '/users' }] }),
    });
    const unauth = (await bare.json()) as { responses: { id: string; status: number }[] };
    expect([bare.status, unauth.responses]).toEqual([
      200,
      [expect.objectContaining({ id: '1', status: 401 })],
    ]);

    const refused = async (body: unknown) => {
      const res = await fetch(`${sb.url}/v1.0/$batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await graphToken(sb)}` },
        body: JSON.stringify(body),
      });
      return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
    };
    const one = (id: string) => ({ id, method: 'GET', url: '/users' });
    expect(await refused({ requests: Array.from({ length: 21 }, (_, k) => one(String(k))) })).toEqual([
      400,
      'BadRequest',
    ]);
    expect(await refused({ requests: [one('a'), one('a')] })).toEqual([400, 'BadRequest']);
    expect(
      await refused({ requests: [{ id: 'a', method: 'GET', url: 'https://evil.example/users' }] }),
    ).toEqual([400, 'BadRequest']);
    expect(await refused({ requests: [{ id: 'a', method: 'TRACE', url: '/users' }] })).toEqual([
      400,
      'BadRequest',
    ]);
    expect(await refused({ requests: [] })).toEqual([400, 'BadRequest']);
    expect(await refused({ nothing: true })).toEqual([400, 'BadRequest']);
    expect(
      await refused({ requests: [{ id: 'a', method: 'GET', url: '/users/a\u0000b/calendars' }] }),
    ).toEqual([400, 'BadRequest']);
  });

  test('$batch runs at most four of its requests at a time, as Graph does for Outlook', async () => {
    const normal = users.filter((u) => u.mailbox && !u.accessDenied && !u.suspended).slice(0, 8);
    await sb.control.setFaults({ latencyMs: 100 });
    try {
      const t0 = Date.now();
      const res = await fetch(`${sb.url}/v1.0/$batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await graphToken(sb)}` },
        body: JSON.stringify({
          requests: normal.map((u, k) => ({
            id: String(k),
            method: 'GET',
            url: `/users/${u.email}/calendar`,
          })),
        }),
      });
      const elapsed = Date.now() - t0;
      const body = (await res.json()) as { responses: { status: number }[] };
      expect(body.responses.map((r) => r.status)).toEqual(normal.map(() => 200));
      expect(elapsed).toBeGreaterThanOrEqual(200); // 8 requests, 4 at a time, 100 ms each: two rounds
      expect(elapsed).toBeLessThan(700);
    } finally {
      await sb.control.setFaults({ latencyMs: 0 });
    }
  });

  test('a deleted user becomes ErrorInvalidUser and leaves /users; an added one appears', async () => {
    const client = graphClient(sb, () => graphToken(sb));
    const victim = find((u) => u.mailbox && !u.accessDenied && !u.suspended && !u.admin);
    await sb.control.deleteUser('microsoft', victim.email);
    const added = await sb.control.addUser('microsoft', {
      email: `New.Person+x@${sbMicrosoft(sb).domain}`,
      name: 'Nouvelle Personne',
    });
    try {
      graphError(
        await rejection(client.api(`/users/${victim.email}/calendar`).get()),
        404,
        'ErrorInvalidUser',
      );
      const { items } = await allPages(client, '/users?$select=userPrincipalName&$top=999', '/v1.0/users');
      expect(items).toHaveLength(USERS + ROOMS);
      expect(items.some((u) => u.userPrincipalName === victim.email)).toBe(false);
      expect(items.some((u) => u.userPrincipalName === added.email)).toBe(true);
      expect((await client.api(`/users/${added.id}/calendar`).get()).owner.name).toBe('Nouvelle Personne');
    } finally {
      await sb.control.deleteUser('microsoft', added.email);
    }
  });
});

describe('links on the sandbox origin (the default)', () => {
  test('plain fetch follows @odata.nextLink on the sandbox URL to the last page', async () => {
    const local = await startSandbox({ seed: 9, google: false, microsoft: { users: 250, rooms: 30 } });
    try {
      const token = await graphToken(local);
      let url: string | undefined = `${local.url}/v1.0/users?$top=100`;
      let count = 0;
      let pages = 0;
      while (url) {
        expect(url.startsWith(local.url)).toBe(true);
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        const body = (await res.json()) as {
          value: unknown[];
          '@odata.nextLink'?: string;
          '@odata.context': string;
        };
        expect(body['@odata.context']).toBe(`${local.url}/v1.0/$metadata#users`);
        count += body.value.length;
        pages += 1;
        url = body['@odata.nextLink'];
      }
      expect([count, pages]).toEqual([280, 3]);
    } finally {
      await local.close();
    }
  });
});
