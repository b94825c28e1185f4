/**
 * The bare reference of the throughput bench (issue 18): the same provider calls a provisioning run
 * makes, in a plain loop with fetch (undici) and `inFlight` calls at once, and the results written
 * with multi-row inserts — no queues, no limiter, none of the product's pipeline. Measured against the same sandbox
 * process in the same run, so the product's figures are ratios to what this machine can do.
 */
import { createPrivateKey, sign } from 'node:crypto';
import postgres from 'postgres';
import { mapLimit } from '../src/lib/map-limit.js';

export type ReferenceInput = {
  provider: 'google' | 'microsoft';
  verify: 'mailbox' | 'directory';
  sandboxUrl: string;
  databaseUrl: string;
  inFlight: number;
  google?: { adminEmail: string; credentials: { client_email: string; private_key: string } };
  microsoft?: { tenantId: string; clientId: string; clientSecret: string };
};

export type ReferenceResult = { accounts: number; seconds: number; accountsPerSec: number; calls: number };

type Mailbox = { id: string; email: string };

const INSERT_BATCH = 500;

async function json<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) {
    throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  }
  return (await res.json()) as T;
}

function googleToken(input: ReferenceInput, subject: string, scopes: string): Promise<string> {
  const g = input.google as NonNullable<ReferenceInput['google']>;
  const now = Math.floor(Date.now() / 1000);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({
    iss: g.credentials.client_email,
    scope: scopes,
    aud: 'https://oauth2.googleapis.com/token',
    iat: now,
    exp: now + 3600,
    sub: subject,
  })}`;
  const sig = sign('RSA-SHA256', Buffer.from(unsigned), createPrivateKey(g.credentials.private_key));
  return fetch(`${input.sandboxUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: `${unsigned}.${sig.toString('base64url')}`,
    }),
  })
    .then((r) => json<{ access_token: string }>(r, 'google token'))
    .then((b) => b.access_token);
}

export async function runReference(input: ReferenceInput): Promise<ReferenceResult> {
  const sql = postgres(input.databaseUrl, { max: 4, onnotice: () => {} });
  await sql`create table if not exists bare_accounts (email text primary key, provider_id text not null, calendars jsonb not null)`;
  await sql`truncate bare_accounts`;
  let calls = 0;
  let accounts = 0;
  let pending: { email: string; provider_id: string; calendars: string }[] = [];
  const writes: Promise<unknown>[] = [];
  const flush = () => {
    if (pending.length === 0) {
      return;
    }
    const rows = pending;
    pending = [];
    writes.push(
      sql`insert into bare_accounts ${sql(rows, 'email', 'provider_id', 'calendars')} on conflict do nothing`,
    );
  };
  const record = (m: Mailbox, calendars: unknown) => {
    accounts += 1;
    pending.push({ email: m.email, provider_id: m.id, calendars: JSON.stringify(calendars) });
    if (pending.length >= INSERT_BATCH) {
      flush();
    }
  };
  const started = performance.now();
  try {
    if (input.provider === 'microsoft') {
      const m = input.microsoft as NonNullable<ReferenceInput['microsoft']>;
      const { access_token: token } = await json<{ access_token: string }>(
        await fetch(`${input.sandboxUrl}/${m.tenantId}/oauth2/v2.0/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: m.clientId,
            client_secret: m.clientSecret,
            scope: 'https://graph.microsoft.com/.default',
          }),
        }),
        'graph token',
      );
      const auth = { authorization: `Bearer ${token}` };
      const mailboxes: Mailbox[] = [];
      let link: string | undefined =
        `${input.sandboxUrl}/v1.0/users?$select=id,mail,userPrincipalName,accountEnabled&$top=999`;
      while (link) {
        calls += 1;
        const page: {
          value: { id: string; mail?: string | null; accountEnabled?: boolean }[];
          '@odata.nextLink'?: string;
        } = await json(await fetch(link, { headers: auth }), 'users');
        for (const u of page.value) {
          if (u.accountEnabled !== false && u.mail) {
            mailboxes.push({ id: u.id, email: u.mail });
          }
        }
        link = page['@odata.nextLink'];
      }
      await mapLimit(mailboxes, input.inFlight, async (mb) => {
        calls += 1;
        const res = await fetch(
          `${input.sandboxUrl}/v1.0/users/${mb.id}/calendars?$select=id,name,canEdit,isDefaultCalendar&$top=50`,
          { headers: auth },
        );
        if (res.ok) {
          record(mb, ((await res.json()) as { value: unknown[] }).value);
        } else {
          await res.arrayBuffer();
        }
      });
    } else {
      const g = input.google as NonNullable<ReferenceInput['google']>;
      const adminToken = await googleToken(
        input,
        g.adminEmail,
        'https://www.googleapis.com/auth/admin.directory.user.readonly',
      );
      const mailboxes: Mailbox[] = [];
      let pageToken: string | undefined;
      do {
        calls += 1;
        const url = new URL(`${input.sandboxUrl}/admin/directory/v1/users`);
        url.searchParams.set('customer', 'my_customer');
        url.searchParams.set('maxResults', '500');
        if (pageToken) {
          url.searchParams.set('pageToken', pageToken);
        }
        const page: {
          users?: { id: string; primaryEmail: string; suspended?: boolean }[];
          nextPageToken?: string;
        } = await json(
          await fetch(url, { headers: { authorization: `Bearer ${adminToken}` } }),
          'users.list',
        );
        for (const u of page.users ?? []) {
          if (!u.suspended) {
            mailboxes.push({ id: u.id, email: u.primaryEmail });
          }
        }
        pageToken = page.nextPageToken;
      } while (pageToken);
      if (input.verify === 'directory') {
        for (const mb of mailboxes) {
          record(mb, [{ id: mb.email, primary: true }]);
        }
      } else {
        await mapLimit(mailboxes, input.inFlight, async (mb) => {
          calls += 2;
          const token = await googleToken(input, mb.email, 'https://www.googleapis.com/auth/calendar').catch(
            () => undefined,
          );
          if (!token) {
            return;
          }
          const res = await fetch(`${input.sandboxUrl}/calendar/v3/users/me/calendarList?maxResults=250`, {
            headers: { authorization: `Bearer ${token}` },
          });
          if (res.ok) {
            record(mb, ((await res.json()) as { items: unknown[] }).items);
          } else {
            await res.arrayBuffer();
          }
        });
      }
    }
    flush();
    await Promise.all(writes);
    const seconds = (performance.now() - started) / 1000;
    return { accounts, seconds, accountsPerSec: accounts / seconds, calls };
  } finally {
    await sql`drop table if exists bare_accounts`.catch(() => {});
    await sql.end({ timeout: 5 });
  }
}
