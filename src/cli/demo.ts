import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { buildServer } from '../api/server.js';
import { type Config, loadConfig } from '../config.js';
import { runMigrations } from '../db/migrate.js';
import { activeDemoRuns } from '../db/queries/admin.js';
import { QUEUE_NAMES } from '../jobs/catalog.js';
import { startWorkers } from '../jobs/worker.js';
import { createRedisClient, parseClusterUrl } from '../lib/redis.js';
import { createShutdown, exitOnSignals } from '../lib/shutdown.js';
import { createLogger } from '../logger.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { startScheduler } from '../scheduler/register.js';
import { schedules } from '../scheduler/schedules.js';
import { createApplication } from '../services/applications.js';
import { cancelRun, createRun, type RunView, runRequestSchema } from '../services/provisioning.js';
import { registerServiceAccount, registrationSchema } from '../services/service-accounts.js';
import { reportAndExit, writeErr, writeOut } from './context.js';
import { type DemoServices, startDemoServices } from './embedded-services.js';
import { watchRun } from './run-progress.js';
import { renderTable } from './table.js';

/** The demo's Application name: earlier demos' unfinished runs are found (and cancelled) by it. */
export const DEMO_APPLICATION = 'Enterprise Connect demo';
/** Its own BullMQ prefix, so it never mixes with a deployment's queues (QUEUE_PREFIX overrides). */
export const DEMO_QUEUE_PREFIX = 'ec-demo';

export type DemoOptions = {
  exit?: boolean;
  /** Start an embedded Postgres / a redis-server even when DATABASE_URL / REDIS_URL are set but dead. */
  embedded?: boolean;
  json?: boolean;
  googleUsers: number;
  googleRooms: number;
  microsoftUsers: number;
  microsoftRooms: number;
  verify: 'mailbox' | 'directory';
  quotas: boolean;
};

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`"${v}" is not a whole number`);
  }
  return n;
};

/** Fails fast (with the usual "start Postgres/Redis" hint) instead of retrying forever. */
async function checkRedis(url: string): Promise<void> {
  const cluster = parseClusterUrl(url);
  const probe = createRedisClient(
    { url, cluster: typeof cluster === 'string' ? null : cluster },
    { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null },
  );
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } finally {
    probe.disconnect();
  }
}

function demoConfig(sandbox: Sandbox, adminToken: string, services: DemoServices): Config {
  return loadConfig(
    {
      ...process.env,
      DATABASE_URL: services.databaseUrl,
      REDIS_URL: services.redisUrl,
      QUEUE_PREFIX: process.env.QUEUE_PREFIX || DEMO_QUEUE_PREFIX,
      ADMIN_TOKEN: adminToken,
      OUTBOUND_ALLOW_PRIVATE: 'true',
      GOOGLE_TOKEN_URL: `${sandbox.url}/token`,
      GOOGLE_API_URL: sandbox.url,
      MICROSOFT_LOGIN_URL: sandbox.url,
      MICROSOFT_GRAPH_URL: sandbox.url,
      LOG_LEVEL: process.env.LOG_LEVEL || 'error',
    },
    'demo',
  );
}

/** Removes what an earlier, interrupted demo left: its queued jobs and its unfinished runs. */
async function clearEarlierDemo(rt: Runtime): Promise<number> {
  for (const name of QUEUE_NAMES) {
    await rt.queues.queue(name).obliterate({ force: true });
  }
  const stale = await activeDemoRuns(rt.app.db, DEMO_APPLICATION);
  for (const run of stale) {
    await cancelRun(rt.app, run);
  }
  return stale.length;
}

type OrgResult = { label: string; view: RunView; secs: number };

function summary(results: OrgResult[], totalSecs: number): string {
  const rows = results.map(({ label, view: v, secs }) => [
    label,
    v.status,
    String(v.counts.listed),
    String(v.counts.provisioned),
    String(v.counts.skipped),
    String(v.counts.failed),
    `${secs.toFixed(1)} s`,
  ]);
  const total = (k: 'listed' | 'provisioned' | 'skipped' | 'failed') =>
    String(results.reduce((n, r) => n + r.view.counts[k], 0));
  rows.push([
    'total',
    '',
    total('listed'),
    total('provisioned'),
    total('skipped'),
    total('failed'),
    `${totalSecs.toFixed(1)} s`,
  ]);
  const reasons = results.flatMap(({ label, view: v }) => [
    ...v.failures_by_reason.map((r) => [label, 'failed', r.error_key, String(r.count)]),
    ...v.skipped_by_reason.map((r) => [label, 'skipped', r.error_key, String(r.count)]),
  ]);
  return [
    renderTable(['organization', 'status', 'listed', 'provisioned', 'skipped', 'failed', 'time'], rows),
    '',
    reasons.length > 0 ? renderTable(['organization', 'status', 'reason', 'count'], reasons) : 'No failures.',
  ].join('\n');
}

async function runDemo(opts: DemoOptions): Promise<void> {
  const started = performance.now();
  const shutdown = createShutdown((name, err) => writeErr(`error while closing ${name}: ${String(err)}`));
  // Nothing answering at the default URLs (a machine with only Node): start our own, closed last.
  const services = await startDemoServices({
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    embedded: opts.embedded ?? false,
    say: writeErr,
  });
  shutdown.onClose('embedded services', services.close);
  writeErr('Enterprise Connect demo: migrating the database…');
  await runMigrations(services.databaseUrl);
  await checkRedis(services.redisUrl);

  writeErr(
    `Starting the sandbox: Google (${opts.googleUsers} users, ${opts.googleRooms} rooms), Microsoft (${opts.microsoftUsers} users, ${opts.microsoftRooms} rooms)…`,
  );
  const sandbox = await startSandbox({
    seed: 'demo',
    google: { users: opts.googleUsers, rooms: opts.googleRooms },
    microsoft: { users: opts.microsoftUsers, rooms: opts.microsoftRooms },
    quotas: opts.quotas,
  });
  shutdown.onClose('sandbox', () => sandbox.close());
  const adminToken = process.env.ADMIN_TOKEN || `demo-${randomBytes(18).toString('base64url')}`;
  const config = demoConfig(sandbox, adminToken, services);
  const logger = createLogger({ level: config.logLevel });
  const runtime = createRuntime(config, logger, { dbPoolSize: 12, applicationName: 'ec-demo' });
  shutdown.onClose('runtime', runtime.close);
  if (!opts.exit) {
    exitOnSignals(shutdown);
  }
  const cancelled = await clearEarlierDemo(runtime);
  if (cancelled > 0) {
    writeErr(`Cancelled ${cancelled} unfinished run(s) of an earlier demo.`);
  }

  const server = await buildServer(runtime.app, { queues: runtime.queues, metrics: runtime.metrics });
  shutdown.onClose('http', () => server.close());
  await server
    .listen({ host: config.http.host, port: config.http.port })
    .catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') {
        throw err;
      }
      writeErr(`Port ${config.http.port} is busy: listening on a free port instead.`);
      await server.listen({ host: config.http.host, port: 0 });
    });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const url = process.env.PUBLIC_URL || `http://${config.http.host}:${port}`;

  const workers = startWorkers(runtime.app, runtime.deps.redis(), { observeJob: runtime.metrics.observeJob });
  shutdown.onClose('workers', workers.close);
  const scheduler = await startScheduler(runtime.queues, schedules(config.scheduler), logger);
  shutdown.onClose('scheduler', scheduler.close);

  const { application } = await createApplication(runtime.app, {
    name: DEMO_APPLICATION,
    redirectUris: [],
    actor: 'demo',
  });
  const g = sandbox.google;
  const m = sandbox.microsoft;
  if (!g || !m) {
    throw new Error('the sandbox started without both organizations');
  }
  writeErr('Registering both Service Accounts (verified live against the sandbox)…');
  const google = await registerServiceAccount(
    runtime.app,
    application,
    registrationSchema.parse({
      provider: 'google',
      domain: g.domain,
      admin_email: g.adminEmail,
      credentials: g.serviceAccountKey,
    }),
    'demo',
  );
  const microsoft = await registerServiceAccount(
    runtime.app,
    application,
    registrationSchema.parse({
      provider: 'microsoft',
      domain: m.domain,
      tenant_id: m.tenantId,
      client_id: m.clientId,
      client_secret: m.clientSecret,
    }),
    'demo',
  );

  const request = runRequestSchema.parse({ include: ['users', 'rooms'], verify: opts.verify });
  const onboarding = performance.now();
  const orgs = [
    { label: `Google ${g.domain}`, sa: google.serviceAccount },
    { label: `Microsoft ${m.domain}`, sa: microsoft.serviceAccount },
  ];
  // Both organizations are onboarded at once; their progress bars are shown one after the other.
  const runs = await Promise.all(orgs.map((o) => createRun(runtime.app, o.sa, null, request)));
  writeErr(`Onboarding both organizations (verify: ${opts.verify})…`);
  const results: OrgResult[] = [];
  for (const [i, org] of orgs.entries()) {
    const run = runs[i];
    if (!run) {
      continue;
    }
    const view = await watchRun(runtime.app, run.id, { label: org.label.padEnd(40) });
    const finished = view.finished_at ? Date.parse(view.finished_at) : Date.now();
    const begun = view.started_at ? Date.parse(view.started_at) : finished;
    results.push({ label: org.label, view, secs: (finished - begun) / 1000 });
  }
  const onboardSecs = (performance.now() - onboarding) / 1000;
  const totalSecs = (performance.now() - started) / 1000;

  if (opts.json) {
    writeOut(
      JSON.stringify({
        runs: results.map((r) => ({ organization: r.label, seconds: r.secs, ...r.view })),
        onboarding_seconds: onboardSecs,
        total_seconds: totalSecs,
        urls: {
          admin: `${url}/admin`,
          queues: `${url}/admin/queues`,
          docs: `${url}/docs`,
          metrics: `${url}/metrics`,
        },
      }),
    );
  } else {
    writeOut('');
    writeOut(summary(results, onboardSecs));
    writeOut('');
    writeOut(
      `Onboarded both organizations in ${onboardSecs.toFixed(1)} s (${totalSecs.toFixed(1)} s in all).`,
    );
    writeOut('');
    writeOut(`Dashboard      ${url}/admin        (user: any, password: the ADMIN_TOKEN below)`);
    writeOut(`Queues         ${url}/admin/queues`);
    writeOut(`API docs       ${url}/docs`);
    writeOut(`Metrics        ${url}/metrics      (curl -H "Authorization: Bearer $ADMIN_TOKEN" …)`);
    writeOut(
      `ADMIN_TOKEN    ${adminToken}${process.env.ADMIN_TOKEN ? ' (from the environment)' : ' (generated for this demo)'}`,
    );
    writeOut(`Application    client_id ${application.clientId}`);
  }
  const ok = results.every((r) => r.view.status === 'completed' || r.view.status === 'completed_with_errors');
  if (opts.exit) {
    await shutdown.close();
    process.exit(ok ? 0 : 1);
  }
  writeErr('\nServing until Ctrl-C.');
}

/** `ec demo`: the whole product on a sandbox organization, in one process. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'migrate, start a sandbox Google domain and Microsoft tenant, run api + worker + scheduler in-process, onboard both with live progress, print a summary and the dashboard URLs',
    )
    .option('--exit', 'stop when onboarding is done (exit code 0 when both runs completed)')
    .option(
      '--embedded',
      'start an embedded Postgres and a redis-server when DATABASE_URL / REDIS_URL do not answer (without it, only when they are unset)',
    )
    .option('--json', 'print the summary as JSON on stdout')
    .option('--google-users <n>', 'users in the Google domain', int, 2000)
    .option('--google-rooms <n>', 'rooms in the Google domain', int, 150)
    .option('--microsoft-users <n>', 'users in the Microsoft tenant', int, 1000)
    .option('--microsoft-rooms <n>', 'rooms in the Microsoft tenant', int, 50)
    .option('--verify <strategy>', 'mailbox (check each calendar) or directory', 'mailbox')
    .option('--no-quotas', "don't enforce the providers' documented quotas in the sandbox")
    .action(async (raw: DemoOptions) => {
      if (raw.verify !== 'mailbox' && raw.verify !== 'directory') {
        writeErr('error: --verify must be mailbox or directory');
        process.exit(2);
      }
      await runDemo(raw).catch(reportAndExit);
    });
}
