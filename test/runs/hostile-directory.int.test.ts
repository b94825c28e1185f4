import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema/accounts.js';
import { directoryEntries } from '../../src/db/schema/directory-entries.js';
import { syncDirectoryNow } from '../../src/services/directory-sync.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { api, startRun, waitForRun } from '../helpers/runs.js';

// A directory whose users and rooms have names Postgres cannot store as they are (a NUL, an
// unpaired surrogate): the adapters strip those characters, so the run provisions them like any
// other entry instead of failing the batch they are in, and directory sync stores them too.
const t = useTestApp({ sandbox: { google: { users: 6, rooms: 2 }, microsoft: { users: 6, rooms: 2 } } });
const receiver = useReceiver();

describe.each(['google', 'microsoft'] as const)('hostile names in the %s directory', (provider) => {
  it('a run provisions them with the characters stripped, and nothing is stuck', async () => {
    const sb = t.sandbox;
    const domain = (provider === 'google' ? sb.google?.domain : sb.microsoft?.domain) ?? '';
    const userEmail = `nul.name@${domain}`;
    await sb.control.addUser(provider, { email: userEmail, name: 'Nul\u0000 Name\ud800' });
    const room = await sb.control.addRoom(provider, {
      name: 'Board\u0000room',
      building: 'HQ\u0000',
      capacity: 8,
    });

    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
    const path = `/hostile-${provider}`;
    const started = await startRun(t, sa.access_token, {
      include: ['users', 'rooms'],
      callback_url: `${receiver.url}${path}`,
      scope: 'read_only',
    });
    const run = await waitForRun(t, sa.access_token, started.id, 30_000);
    expect(run.counts.pending).toBe(0);
    expect(run.counts.listed).toBe(run.counts.provisioned + run.counts.skipped + run.counts.failed);

    const items = await api<{ items: { email: string; status: string; error_description: string | null }[] }>(
      t,
      sa.access_token,
      'GET',
      `/v1/provisioning_runs/${run.id}/items?limit=1000`,
    );
    expect(items.status).toBe(200);
    const statusOf = (email: string) =>
      items.json.items.find((i) => i.email.toLowerCase() === email.toLowerCase())?.status;
    expect(statusOf(userEmail), JSON.stringify(items.json.items)).toBe('provisioned');
    expect(statusOf(room.email)).toBe('provisioned');
    expect(items.json.items.filter((i) => i.status === 'failed')).toEqual([]);

    const db = t.runtime.app.db;
    const stored = await db
      .select({ email: accounts.email, name: accounts.name, status: accounts.status })
      .from(accounts)
      .where(eq(accounts.serviceAccountId, sa.service_account_id));
    const byEmail = (email: string) => stored.find((a) => a.email.toLowerCase() === email.toLowerCase());
    expect(byEmail(userEmail)).toMatchObject({ name: 'Nul Name', status: 'active' });
    expect(byEmail(room.email)).toMatchObject({ name: 'Boardroom', status: 'active' });

    // Directory sync stores the same names; the room's building too.
    const synced = await syncDirectoryNow(t.runtime.app, sa.service_account_id);
    expect(synced).not.toMatchObject({ outcome: 'service_account_broken' });
    const [entry] = await db
      .select()
      .from(directoryEntries)
      .where(
        and(
          eq(directoryEntries.serviceAccountId, sa.service_account_id),
          eq(directoryEntries.emailLower, room.email.toLowerCase()),
        ),
      );
    expect(entry?.name).toBe('Boardroom');
    const resources = await api<{ resources: { email: string; name: string; building?: string | null }[] }>(
      t,
      sa.access_token,
      'GET',
      '/v1/resources?include_details=true',
    );
    expect(resources.status).toBe(200);
    const listed = resources.json.resources.find((r) => r.email.toLowerCase() === room.email.toLowerCase());
    expect(listed).toMatchObject({ name: 'Boardroom' });
    if (provider === 'microsoft') {
      // Graph carries the building as text; Google as a building id the sandbox makes itself.
      expect(listed?.building).toBe('HQ');
    }
  });
});
