/**
 * Benchmark of the due-Profile sweep (DESIGN §7, §10): 1,000,000 Profiles in a scratch database,
 * a realistic share due, and the production statements timed (p50/p99 over repeated runs, each in a
 * rolled-back transaction so every run sees the same rows):
 * - the due query (read and lock one batch of due Profiles through the partial index);
 * - a whole sweep (both states, batch by batch, each claim leasing its rows as the service does).
 * EXPLAIN shows the partial index; the baseline, measured in the same run, is the same statements
 * with the partial indexes dropped inside the rolled-back transaction (the planner's best plan
 * without them). Two scenarios: steady state (one sweep interval due) and a one-hour backlog.
 *
 *   npm run bench -- profile-sweep [--profiles 1000000] [--runs 40] [--keep]
 *
 * Needs Postgres (BENCH_DATABASE_URL, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createDatabase, type Db, type DbOrTx } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import {
  claimDueProfiles,
  claimDueProfilesQuery,
  dueProfilesQuery,
  PAUSED_CHECK_AT,
  type ProfileState,
} from '../src/db/queries/profiles.js';
import { SWEEP_BATCH_SIZE, SWEEP_MAX_BATCHES } from '../src/services/profiles.js';

const SERVICE_ACCOUNTS = 10;
/** Share of Profiles per state (the rest connected). */
const SHARES = { disconnected: 0.03, paused: 0.05, revoked: 0.005 };
const DAY_MS = 86_400_000;
/** One sweep interval (SWEEP_INTERVAL_SECONDS default): the steady-state due window. */
const SWEEP_MS = 60_000;

class Rollback extends Error {}

type Stats = { runs: number; p50Ms: number; p99Ms: number; minMs: number; maxMs: number; rows: number };

function stats(samples: number[], rows: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    runs: sorted.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    minMs: round(sorted[0] ?? 0),
    maxMs: round(sorted.at(-1) ?? 0),
    rows,
  };
}

/** Runs `fn` in a transaction that is always rolled back; returns its result. */
async function rolledBack<T>(db: Db, fn: (tx: DbOrTx) => Promise<T>): Promise<T> {
  let out: T | undefined;
  try {
    await db.transaction(async (tx) => {
      out = await fn(tx);
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) {
      throw err;
    }
  }
  return out as T;
}

async function dropPartialIndexes(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`drop index profiles_connected_due_idx`);
  await tx.execute(sql`drop index profiles_disconnected_due_idx`);
}

async function seed(db: Db, n: number, now: Date): Promise<Record<string, number>> {
  const t = now.toISOString();
  await db.execute(sql`
    insert into applications (id, name, client_id, redirect_uris)
    values ('app_bench', 'bench', 'bench-client', '{}')`);
  await db.execute(sql`
    insert into service_accounts (id, application_id, provider, domain, admin_email, provider_client_id,
      credentials_encrypted, scope, delegated_scope, status, broken_reason, broken_since, next_health_check_at)
    select 'ser_bench' || g, 'app_bench', 'google', 'org' || g || '.example.com', 'admin@org' || g || '.example.com',
      'client' || g, 'x', 'service_account/accounts/manage', 'read_write',
      case when g = 0 then 'broken' else 'active' end,
      case when g = 0 then 'delegation_not_granted' end,
      case when g = 0 then ${t}::timestamptz end,
      case when g = 0 then ${t}::timestamptz + interval '1 hour' end
    from generate_series(0, ${SERVICE_ACCOUNTS - 1}) g`);
  // Service Account 0 is broken: its Profiles (the "paused" share) are disconnected and paused.
  const paused = Math.round(n * SHARES.paused);
  const disconnected = Math.round(n * SHARES.disconnected);
  const revoked = Math.round(n * SHARES.revoked);
  await db.execute(sql`
    insert into accounts (id, application_id, service_account_id, kind, email, email_lower, name, scope)
    select 'acc_b' || g, 'app_bench',
      'ser_bench' || case when g < ${paused} then 0 else 1 + g % ${SERVICE_ACCOUNTS - 1} end,
      'user', 'u' || g || '@example.com', 'u' || g || '@example.com', 'User ' || g, 'read_write'
    from generate_series(0, ${n - 1}) g`);
  // Due times spread uniformly over the next day, starting one sweep interval ago: in steady state a
  // sweep finds one interval's worth of Profiles due (~0.07% of the connected ones).
  await db.execute(sql`
    insert into profiles (id, account_id, service_account_id, provider, provider_profile_id, profile_name,
      connected, disconnect_reason, disconnected_at, failure_count, next_check_at)
    select 'pro_b' || g, 'acc_b' || g,
      'ser_bench' || case when g < ${paused} then 0 else 1 + g % ${SERVICE_ACCOUNTS - 1} end,
      'google', 'g' || g, 'u' || g || '@example.com',
      g >= ${paused + disconnected},
      case when g < ${paused} then 'delegation_not_granted'
           when g < ${paused + disconnected} then 'user_suspended' end,
      case when g < ${paused + disconnected} then ${t}::timestamptz - interval '1 day' end,
      case when g < ${paused + disconnected} then 1 + g % 8 else 0 end,
      case when g < ${paused} then ${PAUSED_CHECK_AT.toISOString()}::timestamptz
           when g >= ${n - revoked} then null
           else ${t}::timestamptz - ${SWEEP_MS} * interval '1 millisecond'
                + (random() * ${DAY_MS}) * interval '1 millisecond' end
    from generate_series(0, ${n - 1}) g`);
  await db.execute(sql`analyze applications, service_accounts, accounts, profiles`);
  const [row] = await db.execute<Record<string, number>>(sql`
    select count(*)::int as total,
      count(*) filter (where connected)::int as connected,
      count(*) filter (where not connected and next_check_at <> ${PAUSED_CHECK_AT.toISOString()}::timestamptz)::int as disconnected,
      count(*) filter (where next_check_at = ${PAUSED_CHECK_AT.toISOString()}::timestamptz)::int as paused,
      count(*) filter (where next_check_at is null)::int as revoked
    from profiles`);
  return row ?? {};
}

async function countDue(db: Db, state: ProfileState, at: Date): Promise<number> {
  const inState = state === 'connected' ? sql`connected` : sql`not connected`;
  const [row] = await db.execute<{ n: number }>(sql`
    select count(*)::int as n from profiles
    where ${inState} and next_check_at <= ${at.toISOString()}::timestamptz`);
  return row?.n ?? 0;
}

/** One sweep's claims (both states, batch by batch as the service does), timed as a whole. */
async function timeSweep(db: Db, at: Date, baseline: boolean): Promise<{ ms: number; claimed: number }> {
  return rolledBack(db, async (tx) => {
    if (baseline) {
      await dropPartialIndexes(tx);
    }
    let claimed = 0;
    const start = performance.now();
    for (const state of ['disconnected', 'connected'] as const) {
      for (let b = 0; b < SWEEP_MAX_BATCHES; b++) {
        const ids = await claimDueProfiles(tx, state, {
          now: at,
          leaseUntil: new Date(at.getTime() + 15 * 60_000),
          limit: SWEEP_BATCH_SIZE,
        });
        claimed += ids.length;
        if (ids.length < SWEEP_BATCH_SIZE) {
          break;
        }
      }
    }
    return { ms: performance.now() - start, claimed };
  });
}

/** The due query (read and lock one batch of due connected Profiles), timed. Writes nothing. */
async function timeDue(db: Db, at: Date, baseline: boolean): Promise<{ ms: number; rows: number }> {
  return rolledBack(db, async (tx) => {
    if (baseline) {
      await dropPartialIndexes(tx);
    }
    const start = performance.now();
    const rows = await tx.execute(dueProfilesQuery('connected', { now: at, limit: SWEEP_BATCH_SIZE }));
    return { ms: performance.now() - start, rows: rows.length };
  });
}

type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; Plans?: PlanNode[] };

function planNodes(node: PlanNode, out: string[] = []): string[] {
  const on = node['Index Name'] ?? node['Relation Name'];
  out.push(on ? `${node['Node Type']} on ${on}` : node['Node Type']);
  for (const child of node.Plans ?? []) {
    planNodes(child, out);
  }
  return out;
}

async function explain(db: Db, at: Date, baseline: boolean, what: 'due' | 'claim') {
  return rolledBack(db, async (tx) => {
    if (baseline) {
      await dropPartialIndexes(tx);
    }
    const opts = { now: at, leaseUntil: new Date(at.getTime() + 15 * 60_000), limit: SWEEP_BATCH_SIZE };
    const query =
      what === 'due' ? dueProfilesQuery('connected', opts) : claimDueProfilesQuery('connected', opts);
    const [json] = await tx.execute<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
      sql`explain (analyze, buffers, format json) ${query}`,
    );
    const text = await tx.execute<{ 'QUERY PLAN': string }>(sql`explain (costs off) ${query}`);
    const plan = json?.['QUERY PLAN'][0];
    return {
      nodes: plan ? planNodes(plan.Plan) : [],
      executionMs: plan?.['Execution Time'],
      text: text.map((r) => r['QUERY PLAN']),
    };
  });
}

/** Rolled-back claims leave dead row versions behind; vacuum so every run starts from the same table. */
async function vacuum(db: Db): Promise<void> {
  await db.execute(sql`vacuum profiles`);
}

async function measure(db: Db, label: string, at: Date, runs: number, baselineRuns: number) {
  const due = {
    connected: await countDue(db, 'connected', at),
    disconnected: await countDue(db, 'disconnected', at),
  };
  const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.001)) * 10) / 10;

  // The due query: read-only, so index and baseline runs see identical tables.
  const dueMs: number[] = [];
  let dueRows = 0;
  for (let i = 0; i < runs; i++) {
    const r = await timeDue(db, at, false);
    dueMs.push(r.ms);
    dueRows = r.rows;
  }
  const baseDueMs: number[] = [];
  for (let i = 0; i < baselineRuns; i++) {
    baseDueMs.push((await timeDue(db, at, true)).ms);
  }

  // A whole sweep (claims of both states, batch by batch, each leasing its rows), vacuumed between runs.
  const sweepMs: number[] = [];
  let swept = 0;
  for (let i = 0; i < runs; i++) {
    if (i % 10 === 0) {
      await vacuum(db);
    }
    const r = await timeSweep(db, at, false);
    sweepMs.push(r.ms);
    swept = r.claimed;
  }
  const baseSweepMs: number[] = [];
  for (let i = 0; i < baselineRuns; i++) {
    await vacuum(db);
    baseSweepMs.push((await timeSweep(db, at, true)).ms);
  }
  await vacuum(db);

  const dueQuery = stats(dueMs, dueRows);
  const baseDue = stats(baseDueMs, dueRows);
  const sweep = stats(sweepMs, swept);
  const baseSweep = stats(baseSweepMs, swept);
  process.stderr.write(
    `${label}: due query p50 ${dueQuery.p50Ms} ms p99 ${dueQuery.p99Ms} ms (without the partial index: p50 ${baseDue.p50Ms} ms); ` +
      `sweep p50 ${sweep.p50Ms} ms p99 ${sweep.p99Ms} ms for ${swept} claimed (without: ${baseSweep.p50Ms} ms)\n`,
  );
  return {
    scenario: label,
    due,
    dueQuery,
    sweep,
    baseline: {
      what: 'the same statements with the partial indexes dropped (inside the rolled-back transaction)',
      dueQuery: baseDue,
      sweep: baseSweep,
    },
    speedup: {
      dueQueryP50: ratio(baseDue.p50Ms, dueQuery.p50Ms),
      dueQueryP99: ratio(baseDue.p99Ms, dueQuery.p99Ms),
      sweepP50: ratio(baseSweep.p50Ms, sweep.p50Ms),
    },
    plan: { dueQuery: await explain(db, at, false, 'due'), claim: await explain(db, at, false, 'claim') },
    baselinePlan: { dueQuery: await explain(db, at, true, 'due') },
  };
}

export async function profileSweepBench(argv: string[] = []): Promise<unknown> {
  const { values } = parseArgs({
    args: argv,
    options: {
      profiles: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '40' },
      'baseline-runs': { type: 'string', default: '8' },
      keep: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const n = Number(values.profiles);
  const runs = Number(values.runs);
  const baselineRuns = Number(values['baseline-runs']);
  const adminUrl =
    process.env.BENCH_DATABASE_URL ??
    process.env.DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `ec_bench_${Math.floor(Date.now() / 1000)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await admin.unsafe(`create database "${name}"`);
  const database = createDatabase(url.toString(), { max: 2, applicationName: 'ec-bench' });
  try {
    await runMigrations(url.toString());
    const now = new Date();
    const seedStart = performance.now();
    const rows = await seed(database.db, n, now);
    const seedSecs = Math.round((performance.now() - seedStart) / 100) / 10;
    process.stderr.write(`seeded ${n} profiles in ${seedSecs} s\n`);
    const [pg] = await database.db.execute<{ v: string }>(sql`select current_setting('server_version') as v`);
    const result = {
      bench: 'profile-sweep',
      at: now.toISOString(),
      postgres: pg?.v,
      profiles: rows,
      seedSecs,
      batchSize: SWEEP_BATCH_SIZE,
      maxBatchesPerState: SWEEP_MAX_BATCHES,
      scenarios: [
        // Steady state: one sweep interval of Profiles due.
        await measure(database.db, 'steady (one sweep interval due)', now, runs, baselineRuns),
        // Backlog: sweeps stopped for an hour; each sweep claims up to its cap.
        await measure(
          database.db,
          'backlog (one hour due)',
          new Date(now.getTime() + 3_600_000),
          runs,
          baselineRuns,
        ),
      ],
    };
    return result;
  } finally {
    await database.close();
    if (!values.keep) {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
    }
    await admin.end();
  }
}

export async function runAndReport(argv: string[]): Promise<void> {
  const result = await profileSweepBench(argv);
  const json = JSON.stringify(result, null, 2);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/profile-sweep.json', import.meta.url), `${json}\n`);
  process.stdout.write(`${json}\n`);
}
