/**
 * Provisioning throughput (DESIGN §5, §10): one run over a sandbox org, end to end (listing,
 * mailbox checks through the real SDKs, Accounts + Profiles + Calendars in batched transactions,
 * callbacks stored), at 0 ms and 50 ms sandbox latency.
 * Baselines measured in the same run:
 * - `directory`: the same org with verify=directory (no mailbox calls): the local pipeline ceiling;
 * - `ideal`: at 50 ms, the latency bound of the mailbox calls in flight (workers × batch parallelism
 *   / (calls per item × latency)).
 *
 *   npm run bench -- provisioning [--users 3000] [--latencies 0,50]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { findRun } from '../src/db/queries/runs.js';
import { startWorkers } from '../src/jobs/worker.js';
import { createLogger } from '../src/logger.js';
import { createRuntime } from '../src/runtime.js';
import { startSandbox } from '../src/sandbox/index.js';
import { createApplication } from '../src/services/applications.js';
import { createRun } from '../src/services/provisioning.js';
import { registerServiceAccount } from '../src/services/service-accounts.js';
import { BENCH_KEYS, scratchDatabase, writeResult } from './common.js';

type Measure = {
  verify: 'mailbox' | 'directory';
  latencyMs: number;
  users: number;
  seconds: number;
  accountsPerSec: number;
  provisioned: number;
  rssMb: number;
};

async function once(users: number, latencyMs: number, verify: 'mailbox' | 'directory'): Promise<Measure> {
  const db = await scratchDatabase({ migrate: true });
  const sandbox = await startSandbox({
    seed: 7,
    google: { users, rooms: 0 },
    microsoft: false,
    quotas: false,
    faults: { latencyMs },
  });
  try {
    const config = loadConfig(
      {
        DATABASE_URL: db.url,
        QUEUE_PREFIX: `ecb-${randomBytes(4).toString('hex')}`,
        ENCRYPTION_KEYS: BENCH_KEYS,
        GOOGLE_TOKEN_URL: `${sandbox.url}/token`,
        GOOGLE_API_URL: sandbox.url,
        OUTBOUND_ALLOW_PRIVATE: 'true',
        LOG_LEVEL: 'silent',
      },
      'test',
    );
    const logger = createLogger({
      level: 'silent',
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    const runtime = createRuntime(config, logger, { dbPoolSize: 20 });
    const workers = startWorkers(runtime.app, runtime.deps.redis());
    try {
      const { application } = await createApplication(runtime.app, {
        name: 'bench',
        redirectUris: [],
        actor: 'bench',
      });
      const g = sandbox.google;
      if (!g) {
        throw new Error('sandbox without Google');
      }
      const { serviceAccount } = await registerServiceAccount(
        runtime.app,
        application,
        { provider: 'google', domain: g.domain, admin_email: g.adminEmail, credentials: g.serviceAccountKey },
        'bench',
      );
      const started = performance.now();
      const run = await createRun(runtime.app, serviceAccount, null, {
        include: ['users'],
        scope: 'read_write',
        verify,
        dry_run: false,
        callback_url: null,
        state: null,
      });
      for (;;) {
        const now = await findRun(runtime.app.db, run.id);
        if (now && !['queued', 'listing', 'provisioning'].includes(now.status)) {
          const seconds = (performance.now() - started) / 1000;
          return {
            verify,
            latencyMs,
            users,
            seconds: Math.round(seconds * 100) / 100,
            accountsPerSec: Math.round((now.provisioned / seconds) * 10) / 10,
            provisioned: now.provisioned,
            rssMb: Math.round(process.memoryUsage().rss / 1048576),
          };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await workers.close();
      await runtime.close();
    }
  } finally {
    await sandbox.close();
    await db.drop();
  }
}

export async function runAndReport(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { users: { type: 'string', default: '3000' }, latencies: { type: 'string', default: '0,50' } },
  });
  const users = Number(values.users);
  const latencies = String(values.latencies).split(',').map(Number);
  const results: Measure[] = [];
  const directory = await once(users, 0, 'directory');
  results.push(directory);
  for (const latencyMs of latencies) {
    results.push(await once(users, latencyMs, 'mailbox'));
  }
  // Google: a token exchange and a calendarList call per user, both at the sandbox latency.
  const callsPerItem = 2;
  // The check gate's size: PROVIDER_CALLS_IN_FLIGHT, left at its default here.
  const inFlight = 200;
  const report = {
    bench: 'provisioning',
    users,
    results,
    ratios: Object.fromEntries(
      results
        .filter((r) => r.verify === 'mailbox')
        .map((r) => {
          const ideal = r.latencyMs > 0 ? inFlight / (callsPerItem * (r.latencyMs / 1000)) : null;
          return [
            `mailbox_${r.latencyMs}ms`,
            {
              vs_directory_pipeline: Math.round((r.accountsPerSec / directory.accountsPerSec) * 100) / 100,
              ...(ideal
                ? {
                    ideal_accounts_per_sec: ideal,
                    vs_latency_bound: Math.round((r.accountsPerSec / ideal) * 100) / 100,
                  }
                : {}),
            },
          ];
        }),
    ),
  };
  writeResult('provisioning.json', report);
}
