import { eq, inArray, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema/accounts.js';
import { directoryEntries } from '../../src/db/schema/directory-entries.js';
import { profiles } from '../../src/db/schema/profiles.js';
import { sweepDueProfiles } from '../../src/services/profiles.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { startRun, waitForRun } from '../helpers/runs.js';
import { eventually, makeDue } from './helpers.js';

const t = useTestApp({
  sandbox: { google: { users: 40, rooms: 6 }, microsoft: { users: 30, rooms: 4 } },
  env: { PROFILE_CHECK_INTERVAL_SECONDS: '3600', SWEEP_INTERVAL_SECONDS: '1' },
});
const receiver = useReceiver();

/** Provider calls the sandbox answered, tokens excluded, and the tokens issued. */
async function sandboxCalls(): Promise<{ calls: number; tokens: number; byRoute: Record<string, number> }> {
  const c = await t.sandbox.control.counters();
  const byRoute = Object.fromEntries(
    Object.entries(c.calls).filter(([k]) => !k.includes('/token') && !k.includes('/_sandbox')),
  );
  return {
    calls: Object.values(byRoute).reduce((a, b) => a + b, 0),
    tokens: c.tokensIssued.google + c.tokensIssued.microsoft,
    byRoute,
  };
}

/** Runs one scheduled check of every given Profile (sweep → profiles.check jobs) and waits for them. */
async function checkAll(profileIds: string[]): Promise<void> {
  const before = new Map(
    (await t.runtime.app.db.select().from(profiles).where(inArray(profiles.id, profileIds))).map((p) => [
      p.id,
      p.lastCheckedAt?.getTime() ?? 0,
    ]),
  );
  await makeDue(t.runtime.app.db, profileIds);
  await sweepDueProfiles(t.runtime.app);
  await eventually(
    async () => {
      const rows = await t.runtime.app.db.select().from(profiles).where(inArray(profiles.id, profileIds));
      const done = rows.filter(
        (p) =>
          (p.lastCheckedAt?.getTime() ?? 0) > (before.get(p.id) ?? 0) &&
          p.nextCheckAt &&
          p.nextCheckAt > new Date(),
      );
      return done.length === profileIds.length;
    },
    'every Profile checked',
    60_000,
  );
}

describe.each(['google', 'microsoft'] as const)(
  'a scheduled check of a connected Profile (%s)',
  (provider) => {
    it('costs one provider call (the calendar read, with a token already held) while its directory entry is fresh', async () => {
      const app = await t.createApplication();
      const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret);
      const run = await waitForRun(
        t,
        sa.access_token,
        (
          await startRun(t, sa.access_token, {
            include: ['users', 'rooms'],
            callback_url: `${receiver.url}/cost-${provider}`,
            scope: 'read_only',
          })
        ).id,
      );
      expect(run.counts.provisioned).toBeGreaterThan(10);
      const rows = await t.runtime.app.db
        .select({ id: profiles.id, kind: accounts.kind })
        .from(profiles)
        .innerJoin(accounts, eq(accounts.id, profiles.accountId))
        .where(eq(profiles.serviceAccountId, sa.service_account_id));
      const ids = rows.map((r) => r.id);
      expect(rows.some((r) => r.kind === 'room')).toBe(true);

      // First round: tokens may be fetched (the run's are held already in this process).
      await checkAll(ids);
      await t.sandbox.control.resetCounters();
      await checkAll(ids);
      const fresh = await sandboxCalls();
      expect(fresh.calls, JSON.stringify(fresh.byRoute)).toBe(ids.length);
      expect(fresh.tokens).toBe(0);

      // A stale directory entry (no listing or sync for more than two intervals): the check reads the
      // directory again before the calendar.
      await t.runtime.app.db
        .update(directoryEntries)
        .set({ lastSeenAt: sql`now() - interval '3 days'` })
        .where(eq(directoryEntries.serviceAccountId, sa.service_account_id));
      await t.sandbox.control.resetCounters();
      await checkAll(ids);
      const stale = await sandboxCalls();
      expect(stale.calls, JSON.stringify(stale.byRoute)).toBeGreaterThan(1.5 * ids.length);
      const states = await t.runtime.app.db.select().from(profiles).where(inArray(profiles.id, ids));
      expect(states.every((p) => p.connected)).toBe(true);
    }, 120_000);
  },
);
