import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { findRun } from '../../src/db/queries/runs.js';
import {
  LIST_PAGES_PER_JOB,
  listPage,
  startRun as startRunStep,
} from '../../src/services/provisioning-listing.js';
import { LIST_PAGE_SIZE } from '../../src/services/provisioning-pipeline.js';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { startRun } from '../helpers/runs.js';

// Three pages of Graph users (999, 999, 502), each answered after 150 ms: a `directory.list-page` job
// lists them one after the other, asking for the next page while it writes this one.
const USERS = 2 * LIST_PAGE_SIZE.users + 502;
const t = useTestApp({
  sandbox: { google: false, microsoft: { users: USERS, rooms: 0 }, faults: { latencyMs: 150 } },
  workers: false,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a directory.list-page job', () => {
  it('lists several pages; a retry goes on from the pages it stored; a job ahead of the cursor does nothing', async () => {
    expect(LIST_PAGES_PER_JOB).toBeGreaterThanOrEqual(3);
    const app = t.runtime.app;
    const created = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'microsoft', created.clientSecret);
    const run = await startRun(t, sa.access_token, { include: ['users'], verify: 'directory' });
    await startRunStep(app, run.id);

    // Stopped (a worker shutting down) once its first page is committed: the next page's request,
    // made while the first was written, is cut, and the job fails after storing one page.
    const stop = new AbortController();
    const first = listPage(app, { runId: run.id, kind: 'users', page: 0 }, stop.signal);
    first.catch(() => {});
    for (;;) {
      const r = await findRun(app.db, run.id);
      if ((r?.cursor.users?.pages ?? 0) >= 1) {
        break;
      }
      await sleep(5);
    }
    stop.abort();
    await expect(first).rejects.toThrow();
    const stopped = await findRun(app.db, run.id);
    const storedPages = stopped?.cursor.users?.pages ?? 0;
    expect(storedPages).toBeGreaterThanOrEqual(1);
    expect(stopped?.cursor.users?.done).toBe(false);

    // A job for a page the listing has not reached is not this job's retry: it stores nothing.
    expect(
      await listPage(
        app,
        { runId: run.id, kind: 'users', page: storedPages + 1 },
        new AbortController().signal,
      ),
    ).toEqual([]);
    expect((await findRun(app.db, run.id))?.cursor.users?.pages).toBe(storedPages);

    // The retry of the job (same payload, page 0) goes on from the cursor and lists the rest.
    const retryStarted = new Date();
    const fx = await listPage(app, { runId: run.id, kind: 'users', page: 0 }, new AbortController().signal);
    const done = await findRun(app.db, run.id);
    expect(done?.cursor.users).toMatchObject({ done: true, pages: 3 });
    expect(done?.listed).toBe(USERS);
    const [items] = await app.db.execute<{ n: number; emails: number }>(
      sql`select count(*)::int as n, count(distinct email_lower)::int as emails from run_items where run_id = ${run.id}`,
    );
    expect(items).toEqual({ n: USERS, emails: USERS });
    // Its last page's batches are its effects (no next page: the listing is done); the batches of the
    // pages before were queued as each committed.
    expect(fx.some((e) => e.name === 'directory.list-page')).toBe(false);
    const returned = new Set(fx.flatMap((e) => (e.name === 'accounts.provision' ? e.payload.itemIds : [])));
    const queued = new Set((await app.liveJobs('accounts.provision')).flatMap((b) => b.itemIds));
    const since = await app.db.execute<{ id: string }>(
      sql`select id from run_items where run_id = ${run.id} and status = 'pending' and created_at >= ${retryStarted.toISOString()}::timestamptz`,
    );
    expect(since.length).toBeGreaterThan(LIST_PAGE_SIZE.users);
    for (const { id } of since) {
      expect(returned.has(id) || queued.has(id), id).toBe(true);
    }
  }, 60_000);
});
