import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { useReceiver } from '../helpers/receiver.js';
import { api, startRun, waitForRun } from '../helpers/runs.js';

// A mailbox whose data the database refuses deterministically: an email with 'İ' (U+0130), which
// JavaScript lower-cases to two code points and Postgres to one, so the Account's
// `email_lower = lower(email)` check refuses it (23514) on every attempt. The batch it is in must
// record it as failed (invalid_provider_data) and the other 24 normally — not fail forever.
const t = useTestApp({ sandbox: { google: { users: 40, rooms: 0 }, microsoft: false } });
const receiver = useReceiver();

describe('one item the database refuses', () => {
  it('is failed with invalid_provider_data; the rest of its batch is provisioned; the run ends', async () => {
    const domain = t.sandbox.google?.domain ?? '';
    const bad = `\u0130nci.refused@${domain}`;
    await t.sandbox.control.addUser('google', { email: bad, name: 'İnci Refused' });
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const started = await startRun(t, sa.access_token, {
      include: ['users'],
      callback_url: `${receiver.url}/refused`,
    });
    const run = await waitForRun(t, sa.access_token, started.id, 60_000);
    expect(run.status).toBe('completed_with_errors');
    const items = await api<{ items: { email: string; status: string; error_key: string | null }[] }>(
      t,
      sa.access_token,
      'GET',
      `/v1/provisioning_runs/${run.id}/items?limit=1000`,
    );
    const badItem = items.json.items.find((i) => i.email === bad);
    expect(badItem, JSON.stringify(items.json.items.slice(0, 3))).toMatchObject({
      status: 'failed',
      error_key: 'invalid_provider_data',
    });
    expect(run.failures_by_reason).toContainEqual({ error_key: 'invalid_provider_data', count: 1 });
    // Everyone else who can be provisioned was (the sandbox org's own failures have other reasons).
    const others = items.json.items.filter((i) => i.email !== bad);
    expect(others.filter((i) => i.error_key === 'invalid_provider_data')).toEqual([]);
    expect(others.filter((i) => i.status === 'provisioned').length).toBeGreaterThan(20);
    const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
    const emails = await receiver.waitForDistinct(
      facts.callbacks,
      (r) => r.path === '/refused',
      (r) => (r.json as { authorization: { email: string } }).authorization.email,
      30_000,
    );
    expect(emails.has(bad)).toBe(true);
    const callback = receiver.received.find(
      (r) =>
        r.path === '/refused' && (r.json as { authorization: { email: string } }).authorization.email === bad,
    );
    expect(
      (callback?.json as { authorization?: Record<string, string> } | undefined)?.authorization,
    ).toMatchObject({
      error: 'access_denied',
      error_key: 'invalid_provider_data',
    });
  }, 90_000);
});
