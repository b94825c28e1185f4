import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema/accounts.js';
import { calendars } from '../../src/db/schema/calendars.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { startRun, waitForRun } from '../helpers/runs.js';

const ROOMS = 120;
const t = useTestApp({ sandbox: { google: { users: 5, rooms: ROOMS }, microsoft: false } });
const receiver = useReceiver();

describe('rooms in a Google run (verify: "mailbox")', () => {
  it('are read many per freebusy.query as the admin, never one calendars.get each', async () => {
    const rooms = (await t.sandbox.control.listRooms('google', { offset: 0, limit: 1000 })).rooms;
    expect(rooms).toHaveLength(ROOMS);
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    await t.sandbox.control.resetCounters();
    const run = await waitForRun(
      t,
      sa.access_token,
      (
        await startRun(t, sa.access_token, {
          include: ['rooms'],
          callback_url: `${receiver.url}/rooms`,
          scope: 'read_only',
        })
      ).id,
    );
    expect(run.counts.listed).toBe(ROOMS);
    expect(run.counts.provisioned).toBe(ROOMS);
    const { calls } = await t.sandbox.control.counters();
    const freeBusy = Object.entries(calls)
      .filter(([k]) => k.startsWith('POST /calendar/v3/freeBusy'))
      .reduce((n, [, v]) => n + v, 0);
    const gets = Object.entries(calls)
      .filter(([k]) => k.startsWith('GET /calendar/v3/calendars/'))
      .reduce((n, [, v]) => n + v, 0);
    // Batches of 25 items: one call per batch at most (50 rooms fit in one).
    expect(freeBusy).toBeGreaterThan(0);
    expect(freeBusy).toBeLessThanOrEqual(Math.ceil(ROOMS / 25));
    expect(gets).toBe(0);
    // Each room's Calendar is named as the directory names the room.
    const rows = await t.runtime.app.db
      .select({
        email: accounts.email,
        name: accounts.name,
        cal: calendars.name,
        id: calendars.providerCalendarId,
      })
      .from(accounts)
      .innerJoin(calendars, eq(calendars.accountId, accounts.id))
      .where(eq(accounts.serviceAccountId, sa.service_account_id));
    expect(rows).toHaveLength(ROOMS);
    for (const r of rows) {
      expect(r.cal).toBe(r.name);
      expect(r.id).toBe(r.email);
    }
  }, 120_000);
});
