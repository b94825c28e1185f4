import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FailuresReport } from '../../src/cli/failures.js';
import type { QueueReport } from '../../src/cli/queues.js';
import { DEMO_ENCRYPTION_KEYS } from '../../src/config.js';
import { runEc } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

/**
 * `ec demo --exit` as CI runs it (smaller organizations, a database of its own cloned from the
 * template, its own queue prefix), then the ops CLI against what it left behind.
 */
const db = useTestDatabase();
const prefix = `ec-demo-t-${randomBytes(4).toString('hex')}`;
const env = () => ({
  DATABASE_URL: db.url,
  REDIS_URL: TEST_REDIS_URL,
  QUEUE_PREFIX: prefix,
  PORT: '0',
  ADMIN_TOKEN: 'demo-test-admin-token-0123456789',
});
const SIZES = [
  '--google-users',
  '300',
  '--google-rooms',
  '20',
  '--microsoft-users',
  '150',
  '--microsoft-rooms',
  '10',
];

/** The summary table's row for an organization or the total: [listed, provisioned, skipped, failed]. */
function countsOf(stdout: string, startsWith: string): number[] {
  const line = stdout.split('\n').find((l) => l.startsWith(startsWith));
  expect(line, `no "${startsWith}" line in:\n${stdout}`).toBeDefined();
  return (line ?? '')
    .split(/\s{2,}/)
    .filter((c) => /^\d+$/.test(c))
    .map(Number);
}

describe('ec demo --exit', () => {
  it('migrates, onboards both organizations, prints the summary and URLs, exits 0', async () => {
    const res = await runEc(['demo', '--exit', ...SIZES], env(), 150_000);
    expect(res.code, res.stderr).toBe(0);
    const [gListed, gProv, gSkip, gFail] = countsOf(res.stdout, 'Google ');
    const [mListed, mProv, mSkip, mFail] = countsOf(res.stdout, 'Microsoft ');
    expect(gListed).toBe(320);
    expect(mListed).toBe(160);
    expect((gProv ?? 0) + (gSkip ?? 0) + (gFail ?? 0)).toBe(320);
    expect((mProv ?? 0) + (mSkip ?? 0) + (mFail ?? 0)).toBe(160);
    expect(gProv).toBeGreaterThan(250);
    expect(mFail).toBeGreaterThan(0); // access-policy-denied mailboxes
    expect(countsOf(res.stdout, 'total')).toEqual([
      480,
      (gProv ?? 0) + (mProv ?? 0),
      (gSkip ?? 0) + (mSkip ?? 0),
      (gFail ?? 0) + (mFail ?? 0),
    ]);
    expect(res.stdout).toMatch(/user_suspended/);
    expect(res.stdout).toMatch(/insufficient_permissions/);
    expect(res.stdout).toMatch(/Dashboard +http:\/\/127\.0\.0\.1:\d+\/admin/);
    for (const path of ['/admin/queues', '/docs', '/metrics']) {
      expect(res.stdout).toContain(path);
    }
    expect(res.stdout).toContain('demo-test-admin-token-0123456789 (from the environment)');
    // Progress went to stderr; stdout stays the summary.
    expect(res.stderr).toContain('Onboarding both organizations');
  }, 160_000);

  it('runs again on the same database (each demo is fresh) and prints JSON', async () => {
    const res = await runEc(
      [
        'demo',
        '--exit',
        '--json',
        '--google-users',
        '40',
        '--google-rooms',
        '4',
        '--microsoft-users',
        '30',
        '--microsoft-rooms',
        '3',
      ],
      env(),
      120_000,
    );
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { runs: { status: string; counts: { listed: number } }[] };
    expect(out.runs.map((r) => r.counts.listed)).toEqual([44, 33]);
  }, 130_000);

  it('ec queues --json reports every queue with the rates the demo produced', async () => {
    const res = await runEc(['queues', '--json'], env());
    expect(res.code, res.stderr).toBe(0);
    const { queues, outbox } = JSON.parse(res.stdout) as {
      queues: QueueReport[];
      outbox: { due: number; later: number; dead: number };
    };
    // The demo's callbacks all went out: nothing waits in the outbox, nothing is dead.
    expect(outbox).toEqual({ due: 0, later: 0, dead: 0 });
    expect(queues.map((q) => q.queue).sort()).toEqual([
      'authorizations',
      'directory',
      'maintenance',
      'profiles',
      'provisioning',
    ]);
    const provisioning = queues.find((q) => q.queue === 'provisioning');
    expect(provisioning?.completed_per_min.m15).toBeGreaterThan(0);
    const text = await runEc(['queues'], env());
    expect(text.stdout).toMatch(/^queue +waiting/);
    expect(text.stdout).toMatch(/outbox \(callbacks and notifications, in Postgres\): 0 due now/);
  });

  it('ec failures lists failed items by reason and --retry re-queues them', async () => {
    const withKeys = { ...env(), ENCRYPTION_KEYS: DEMO_ENCRYPTION_KEYS };
    const res = await runEc(['failures', '--json'], withKeys);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as FailuresReport;
    expect(report.failed_items.total).toBeGreaterThan(0);
    expect(report.failed_items.by_reason[0]?.error_key).toBe('insufficient_permissions');
    expect(report.dead_letters.count).toBe(0);

    const text = await runEc(['failures'], withKeys);
    expect(text.stdout).toContain(`Failed run items: ${report.failed_items.total}`);

    const retried = await runEc(['failures', '--retry', '--json'], withKeys);
    expect(retried.code, retried.stderr).toBe(0);
    const r = JSON.parse(retried.stdout) as { retried: { items: number; deliveries: number } };
    expect(r.retried.items).toBe(report.failed_items.total);
    const after = JSON.parse((await runEc(['failures', '--json'], withKeys)).stdout) as FailuresReport;
    expect(after.failed_items.total).toBe(0);
  });
});
