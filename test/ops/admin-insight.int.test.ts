import { execFileSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { findServiceAccount } from '../../src/db/queries/service-accounts.js';
import { profileStateDays } from '../../src/db/schema/profile-state-days.js';
import { runChartsOf } from '../../src/services/run-charts.js';
import { createProvisioningRun, createRunItem } from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { type RegisteredSa, registerSandboxServiceAccount } from '../helpers/flow.js';
import { type RunJson, startRun, waitForRun } from '../helpers/runs.js';

/**
 * The operator's views of issue 14: a run's progress and provider calls over time, a Service
 * Account's Profiles by day, failed items searched, paged past 100 and exported as CSV (/admin and
 * `ec failures --items`); the audit log is audit-log.int.test.ts. Real Postgres, Redis, workers
 * and a sandbox run.
 */

const ADMIN_TOKEN = 'insight-admin-token-0123456789';
const t = useTestApp({
  env: { ADMIN_TOKEN },
  sandbox: { google: { users: 60, rooms: 6 }, microsoft: { users: 150, rooms: 5 } },
});
const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function get(path: string, headers: Record<string, string> = bearer) {
  const res = await fetch(`${t.url}${path}`, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function _getJson<T>(path: string, token: string) {
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as T, text };
}

/** Parses CSV with Python's csv module (an independent RFC 4180 reader). */
function parseCsv(text: string): string[][] {
  const out = execFileSync(
    'python3',
    [
      '-c',
      'import csv,io,json,sys; print(json.dumps(list(csv.reader(io.StringIO(sys.stdin.buffer.read().decode("utf-8"), newline="")))))',
    ],
    { input: Buffer.from(text, 'utf8') },
  );
  return JSON.parse(out.toString('utf8')) as string[][];
}

const cliEnv = () => ({
  DATABASE_URL: t.config.databaseUrl,
  QUEUE_PREFIX: t.config.redis.queuePrefix,
  ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
  LOG_LEVEL: 'silent',
});

let appA: { clientId: string; clientSecret: string; applicationId: string };
let appB: { clientId: string; clientSecret: string; applicationId: string };
let microsoft: RegisteredSa;
let google: RegisteredSa;
let run: RunJson;
let sandboxCalls = 0;

beforeAll(async () => {
  appA = await t.createApplication();
  appB = await t.createApplication();
  microsoft = await registerSandboxServiceAccount(t, 'microsoft', appA.clientSecret);
  google = await registerSandboxServiceAccount(t, 'google', appB.clientSecret);
  // Only the run's calls from here on (registration verified the credentials live).
  await t.sandbox.control.resetCounters();
  const started = await startRun(t, microsoft.access_token, { include: ['users', 'rooms'] });
  run = await waitForRun(t, microsoft.access_token, started.id);
  const counters = await t.sandbox.control.counters();
  sandboxCalls = Object.entries(counters.calls)
    .filter(([route]) => !/token/.test(route))
    .reduce((n, [, calls]) => n + calls, 0);
}, 180_000);

describe('a run drawn over time', () => {
  it('records every provider call the run made, per slot and API, as the sandbox counted them', async () => {
    const rows = await t.runtime.app.db.execute<{ api: string; calls: number }>(
      sql`select api, sum(calls)::int as calls from run_provider_calls where run_id = ${run.id} group by api`,
    );
    const byApi = Object.fromEntries([...rows].map((r) => [r.api, r.calls]));
    expect(Object.keys(byApi).sort()).toEqual(['microsoft.directory', 'microsoft.mailbox']);
    const total = Object.values(byApi).reduce((n, c) => n + c, 0);
    // verify=mailbox: at least one mailbox call per provisioned item, plus the directory pages.
    expect(sandboxCalls).toBeGreaterThan(run.counts.provisioned);
    expect(total).toBe(sandboxCalls);
  });

  it('adds the items decided per bucket up to the run counts, and finds the binding quota', async () => {
    const charts = await runChartsOf(t.runtime.app, run.id);
    if (!charts) {
      throw new Error('no charts');
    }
    const sum = (key: string) =>
      Math.round(charts.progress.reduce((n, p) => n + (p.values[key] ?? 0), 0) * (charts.bucketSecs / 60));
    expect(run.counts.failed).toBeGreaterThan(0);
    expect(sum('provisioned')).toBe(run.counts.provisioned);
    expect(sum('failed')).toBe(run.counts.failed);
    expect(sum('skipped')).toBe(run.counts.skipped);
    // Graph's mailbox quota is per mailbox: only the directory's app-wide quota is a line.
    expect(charts.quotas.map((q) => q.api)).toEqual(['microsoft.directory']);
    expect(charts.binding?.api).toBe('microsoft.directory');
    expect(charts.binding?.perMinute).toBe(21_000);
  });

  it("draws both pictures on the run's page: SVG with title, description, axes, legend and a table", async () => {
    const page = await get(`/admin/runs/${run.id}`);
    expect(page.status).toBe(200);
    expect(
      page.text.match(/<svg class="chart" role="img" aria-labelledby="[a-z-]+-title [a-z-]+-desc"/g),
    ).toHaveLength(2);
    for (const text of [
      '<title id="run-progress-title">Items decided per minute</title>',
      '<title id="run-calls-title">Provider calls per minute</title>',
      'Items per minute',
      'Calls per minute',
      'Time (UTC)',
      '>Provisioned</text>',
      '>Failed</text>',
      '>microsoft.mailbox</text>',
      'microsoft.directory quota (3,500 per 10 s)',
      '<table class="chart-data">',
      `${run.counts.failed} failed`,
    ]) {
      expect(page.text).toContain(text);
    }
    expect(page.text).not.toMatch(/<script/i);
  });

  it("draws a Service Account's Profiles by day, today live and past days from the hourly count", async () => {
    const sa = await findServiceAccount(t.runtime.app.db, microsoft.service_account_id);
    expect(sa).toBeDefined();
    await t.runtime.app.enqueue('profiles.snapshot', {});
    const today = new Date().toISOString().slice(0, 10);
    for (let i = 0; i < 100; i++) {
      const rows = await t.runtime.app.db.execute<{ connected: number }>(
        sql`select connected from profile_state_days where service_account_id = ${microsoft.service_account_id} and day = ${today}`,
      );
      if ([...rows].length > 0) {
        expect([...rows][0]?.connected).toBe(run.counts.provisioned);
        break;
      }
      if (i === 99) {
        throw new Error('no snapshot row');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    await t.runtime.app.db.insert(profileStateDays).values({
      serviceAccountId: microsoft.service_account_id,
      day: threeDaysAgo,
      connected: 7,
      disconnected: 3,
    });
    const page = await get(`/admin/service-accounts/${microsoft.service_account_id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(
      '<title id="profiles-days-title">Profiles connected and disconnected, by day</title>',
    );
    expect(page.text).toContain(
      `<tr><th scope="row">${threeDaysAgo.slice(5)}</th><td class="num">7</td><td class="num">3</td></tr>`,
    );
    expect(page.text).toContain(
      `<tr><th scope="row">${today.slice(5)}</th><td class="num">${run.counts.provisioned}</td><td class="num">0</td></tr>`,
    );
    const list = await get('/admin/service-accounts');
    expect(list.text).toContain(`href="/admin/service-accounts/${microsoft.service_account_id}"`);
    expect((await get(`/admin/service-accounts/ser_${'a'.repeat(26)}`)).status).toBe(404);
    expect((await get('/admin/service-accounts/nope')).status).toBe(422);
    expect((await get(`/admin/service-accounts/${microsoft.service_account_id}`, {})).status).toBe(401);
  });
});

describe('failed items: search, paging past 100, CSV', () => {
  const HOSTILE = [
    '=cmd|calc@x.example',
    '+sum@x.example',
    '-minus@x.example',
    '@at@x.example',
    'q"uote,comma@x.example',
    'new\nline@x.example',
  ];
  let runId = '';
  let serviceAccountId = '';

  beforeAll(async () => {
    const db = t.runtime.app.db;
    const sa = await findServiceAccount(db, google.service_account_id);
    if (!sa) {
      throw new Error('no sa');
    }
    serviceAccountId = sa.id;
    const r = await createProvisioningRun(db, sa, { status: 'completed_with_errors', failed: 250 });
    runId = r.id;
    for (let i = 0; i < 244; i++) {
      await createRunItem(db, r.id, {
        email: `user${String(i).padStart(3, '0')}${i % 10 === 0 ? '_%' : ''}@fail.example`,
        status: 'failed',
        errorKey: i % 2 ? 'mailbox_not_found' : 'access_denied',
        errorDescription: i === 1 ? '=HYPERLINK("http://evil")' : 'The mailbox does not exist',
      });
    }
    for (const email of HOSTILE) {
      await createRunItem(db, r.id, {
        email,
        status: 'failed',
        errorKey: 'access_denied',
        errorDescription: 'x',
      });
    }
    await createRunItem(db, r.id, { email: 'fine@fail.example', status: 'provisioned' });
  });

  it('pages through 250 failures 100 at a time with a cursor: each once, none missing', async () => {
    const seen: string[] = [];
    let next: string | null = `/admin/failures?run=${runId}`;
    let pages = 0;
    while (next) {
      const page = await get(next);
      expect(page.status).toBe(200);
      pages += 1;
      const emails = [...page.text.matchAll(/<tr><td>([^<]*)<\/td><td>user<\/td>/g)].map((m) => m[1] ?? '');
      seen.push(...emails);
      const link = /href="(\/admin\/failures\?[^"]*cursor=[^"]+)">Next page/.exec(page.text);
      next = link?.[1]?.replaceAll('&amp;', '&') ?? null;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
  });

  it('searches by a part of the email (wildcards literal, any case) and by reason', async () => {
    const like = await get(`/admin/failures?run=${runId}&email=${encodeURIComponent('_%')}`);
    expect([...like.text.matchAll(/@fail\.example<\/td>/g)]).toHaveLength(25);
    const upper = await get(`/admin/failures?run=${runId}&email=USER00`);
    expect([...upper.text.matchAll(/<td>user00\d/g)]).toHaveLength(10);
    const reason = await get(`/admin/failures?run=${runId}&reason=mailbox_not_found&limit=1000`);
    expect([...reason.text.matchAll(/<code>mailbox_not_found<\/code>/g)]).toHaveLength(122);
    const both = await get(`/admin/failures?email=user001&reason=mailbox_not_found&run=`);
    expect([...both.text.matchAll(/<td>user001/g)]).toHaveLength(1);
  });

  it('refuses bad filters with a 4xx page, never a 500', async () => {
    for (const q of [
      'email=%00',
      'reason=DROP%20TABLE',
      'cursor=garbage',
      'limit=0',
      'limit=5000',
      'run=run_x',
    ]) {
      const r = await get(`/admin/failures?${q}`);
      expect(r.status, q).toBeGreaterThanOrEqual(400);
      expect(r.status, q).toBeLessThan(500);
    }
    // Not UTF-8: kept as the literal text by the query parser, so simply nothing matches.
    const notUtf8 = await get('/admin/failures?email=%ff');
    expect(notUtf8.status).toBe(200);
    expect(notUtf8.text).toContain('No failed items match.');
    expect((await get('/admin/failures.csv?reason=%00')).status).toBe(422);
  });

  it('exports every match as CSV that round-trips through a parser, formulas neutralised', async () => {
    const res = await get(`/admin/runs/${runId}/failures.csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="failures-${runId}.csv"`);
    const rows = parseCsv(res.text);
    expect(rows[0]).toEqual([
      'run_id',
      'service_account_id',
      'domain',
      'email',
      'kind',
      'error_key',
      'error_description',
      'attempts',
      'updated_at',
    ]);
    expect(rows).toHaveLength(251);
    const emails = rows.slice(1).map((r) => r[3]);
    for (const e of HOSTILE) {
      expect(emails).toContain(/^[=+\-@]/.test(e) ? `'${e}` : e);
    }
    expect(rows.slice(1).every((r) => r[0] === runId && r[1] === serviceAccountId)).toBe(true);
    expect(rows.some((r) => r[6] === `'=HYPERLINK("http://evil")`)).toBe(true);
    const filtered = parseCsv((await get(`/admin/failures.csv?run=${runId}&reason=access_denied`)).text);
    expect(filtered).toHaveLength(1 + 122 + HOSTILE.length);
  });

  it('`ec failures --items` lists, pages with --cursor and exports the same CSV', async () => {
    const first = await runEc(['failures', '--items', '--run', runId, '--json'], cliEnv());
    expect(first.code, first.stderr).toBe(0);
    const p1 = JSON.parse(first.stdout) as { items: { email: string }[]; next_cursor: string | null };
    expect(p1.items).toHaveLength(100);
    const second = await runEc(
      ['failures', '--items', '--run', runId, '--json', '--limit', '200', '--cursor', p1.next_cursor ?? ''],
      cliEnv(),
    );
    const p2 = JSON.parse(second.stdout) as { items: { email: string }[]; next_cursor: string | null };
    expect(p2.items).toHaveLength(150);
    expect(p2.next_cursor).toBeNull();
    expect(new Set([...p1.items, ...p2.items].map((i) => i.email)).size).toBe(250);

    const csv = await runEc(['failures', '--items', '--run', runId, '--csv'], cliEnv());
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toBe((await get(`/admin/failures.csv?run=${runId}`)).text);

    const table = await runEc(
      ['failures', '--items', '--email', 'user24', '--reason', 'mailbox_not_found'],
      cliEnv(),
    );
    expect(table.stdout).toContain('user241@fail.example');
    expect(table.stdout).not.toContain('user240');

    for (const bad of [
      ['--limit', '0'],
      ['--run', 'nope'],
      ['--cursor', 'x'],
      ['--reason', 'A B'],
    ]) {
      const r = await runEc(['failures', '--items', ...bad], cliEnv());
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr).toContain(`error: ${bad[0]}`);
    }
  });
});
