import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { directoryEntries } from '../../src/db/schema/directory-entries.js';
import { syncDirectoryNow } from '../../src/services/directory-sync.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { useReceiver } from '../helpers/receiver.js';
import { api, startRun, waitForRun } from '../helpers/runs.js';

// A directory page holding one entry whose data the database refuses on every attempt: an email of
// 4,000 characters that do not compress, too long for the unique index on email_lower (54000). The
// page must be stored without it, the entry recorded as a failed item (invalid_provider_data, with
// its callback), and the run must end; a directory sync leaves the entry out and stores the rest.
const t = useTestApp({ sandbox: { google: { users: 12, rooms: 0 }, microsoft: { users: 12, rooms: 0 } } });
const receiver = useReceiver();

type Item = { email: string; status: string; error_key: string | null };

describe.each(['google', 'microsoft'] as const)(
  'a %s directory page with an entry Postgres refuses',
  (provider) => {
    it('fails that entry with invalid_provider_data; the rest of the page is stored; the run ends', async () => {
      const domain = (provider === 'google' ? t.sandbox.google?.domain : t.sandbox.microsoft?.domain) ?? '';
      const local = randomBytes(3_000)
        .toString('base64url')
        .slice(0, 4_000)
        .replace(/^[-_]+/, 'x');
      const bad = `${local}@${domain}`;
      await t.sandbox.control.addUser(provider, { email: bad, name: 'Far Too Long' });
      const app = await t.createApplication();
      const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
      const path = `/refused-${provider}`;
      const started = await startRun(t, sa.access_token, {
        include: ['users'],
        callback_url: `${receiver.url}${path}`,
      });
      const run = await waitForRun(t, sa.access_token, started.id, 60_000);
      expect(run.status).toBe('completed_with_errors');
      expect(run.failures_by_reason).toContainEqual({ error_key: 'invalid_provider_data', count: 1 });

      const items = await api<{ items: Item[] }>(
        t,
        sa.access_token,
        'GET',
        `/v1/provisioning_runs/${run.id}/items?limit=1000`,
      );
      expect(items.status).toBe(200);
      const refused = items.json.items.filter((i) => i.error_key === 'invalid_provider_data');
      expect(refused).toHaveLength(1);
      expect(refused[0]?.status).toBe('failed');
      // Stored shortened (its first 200 characters, then a hash of the whole).
      expect(refused[0]?.email.startsWith(bad.slice(0, 200))).toBe(true);
      expect(refused[0]?.email.length).toBeLessThan(240);
      const others = items.json.items.filter((i) => i.error_key !== 'invalid_provider_data');
      expect(others.length).toBeGreaterThanOrEqual(12);
      expect(others.filter((i) => i.status === 'provisioned').length).toBeGreaterThan(6);
      expect(others.filter((i) => i.status === 'pending')).toEqual([]);

      const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
      expect(facts.failed).toBe(run.counts.failed);
      const emails = await receiver.waitForDistinct(
        facts.callbacks,
        (r) => r.path === path,
        (r) => (r.json as { authorization: { email: string } }).authorization.email,
        30_000,
      );
      expect(emails.has(refused[0]?.email ?? '')).toBe(true);
      const callback = receiver.received.find(
        (r) =>
          r.path === path &&
          (r.json as { authorization: { email: string } }).authorization.email === refused[0]?.email,
      );
      expect(
        (callback?.json as { authorization?: Record<string, string> } | undefined)?.authorization,
      ).toMatchObject({
        error: 'access_denied',
        error_key: 'invalid_provider_data',
      });

      // The directory sync stores every other entry of that page and leaves the refused one out.
      const db = t.runtime.app.db;
      const synced = await syncDirectoryNow(t.runtime.app, sa.service_account_id);
      expect(synced).not.toMatchObject({ outcome: 'service_account_broken' });
      const stored = await db
        .select({ emailLower: directoryEntries.emailLower, removedAt: directoryEntries.removedAt })
        .from(directoryEntries)
        .where(eq(directoryEntries.serviceAccountId, sa.service_account_id));
      expect(stored.filter((e) => e.removedAt === null)).toHaveLength(others.length);
      expect(stored.some((e) => e.emailLower.length > 320)).toBe(false);
    }, 120_000);
  },
);
