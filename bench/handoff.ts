/**
 * The hand-off of a provisioning run to the Application (issue 17): a run over a sandbox org with
 * `verify: "directory"`, and a callback receiver that redeems every code through the official
 * `cronofy` SDK, at most 32 redemptions in flight. Everything runs as users run it, each in its own
 * process: `ec sandbox` (a provider is remote), `ec api`, `ec worker`, and the receiver
 * (bench/handoff-receiver.ts). The Application is created with `ec apps create`, the Service Account
 * and the run through the HTTP API.
 *
 * Figures: provisioning time (the run's started_at → finished_at, from the API) and accounts/s;
 * callbacks received (distinct Accounts) and callbacks/s; code exchanges ok/s; lost redemptions by
 * reason; 429s; the time from the run's start to the last redeemed token, and its ratio to the
 * provisioning time. Targets (2 cores): callbacks/s ≥ accounts/s, ≥ 1,000 exchanges/s, ratio ≤ 1.5.
 *
 *   npm run bench -- handoff [--users 20000] [--in-flight 32] [--give-up-seconds 300] [--latency 0]
 *
 * The bench stops by itself: when every Account's code is redeemed or lost, or --give-up-seconds
 * after the run is final. Every child process is killed on exit.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  BENCH_KEYS,
  type Child,
  forkTs,
  freePort,
  machineCpu,
  machineCpuSince,
  REDIS_URL,
  round,
  type ScratchDatabase,
  scratchDatabase,
  sleep,
  spawnEc,
  stopAllChildren,
  writeResult,
} from './common.js';
import {
  api,
  dropQueueKeys,
  FINAL_RUN_STATUSES as FINAL,
  productEnv,
  type RunJson,
  registerThroughApi,
  type SandboxProcess,
  startRunThroughApi,
  startSandboxProcess,
  waitHealthy,
} from './stack.js';

type ReceiverStats = {
  inFlightLimit: number;
  callbacks: number;
  duplicates: number;
  duplicatesAfterOk: number;
  badSignature: number;
  badBody: number;
  ok: number;
  okWhileSaturated: number;
  rateLimited429: number;
  retriedWithNewerCode: number;
  inFlight: number;
  distinct: number;
  errorCallbacks: number;
  errorKeys: Record<string, number>;
  states: { queued: number; inflight: number; ok: number; lost: number };
  lost: Record<string, number>;
  attemptFailures: Record<string, number>;
  descriptions: Record<string, string>;
  retryAfterSeen: Record<string, number>;
  firstCallbackAt: number;
  lastNewCallbackAt: number;
  lastCallbackAt: number;
  firstOkAt: number;
  lastOkAt: number;
  saturatedMs: number;
  cpuSeconds: number;
  rssMb: number;
};

function receiverStats(receiver: Child): Promise<ReceiverStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the receiver did not answer a stats request')), 30_000);
    const onMessage = (msg: { type?: string }) => {
      if (msg.type === 'stats') {
        clearTimeout(timer);
        receiver.proc.off('message', onMessage);
        resolve(msg as unknown as ReceiverStats);
      }
    };
    receiver.proc.on('message', onMessage);
    receiver.proc.send({ type: 'stats' });
  });
}

const perSec = (count: number, ms: number) => (ms > 0 ? round(count / (ms / 1000), 1) : null);

export async function handoffBench(argv: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args: argv,
    options: {
      users: { type: 'string', default: '20000' },
      'in-flight': { type: 'string', default: '32' },
      'give-up-seconds': { type: 'string', default: '300' },
      latency: { type: 'string', default: '0' },
      seed: { type: 'string', default: '7' },
    },
    allowPositionals: true,
  });
  const users = Number(values.users);
  const inFlight = Number(values['in-flight']);
  const giveUpMs = Number(values['give-up-seconds']) * 1000;
  const log = (line: string) => process.stderr.write(`[handoff] ${line}\n`);

  const prefix = `ecb-${randomBytes(4).toString('hex')}`;
  let db: ScratchDatabase | undefined;
  let sandbox: SandboxProcess | undefined;
  try {
    db = await scratchDatabase({ migrate: true });
    log(`scratch database ${db.name}, queue prefix ${prefix}`);

    // The provider: its own process, as a remote one would be.
    sandbox = await startSandboxProcess({
      provider: 'google',
      users,
      rooms: 0,
      latencyMs: Number(values.latency),
      seed: String(values.seed),
    });
    log(`sandbox ${sandbox.url}: ${users} users at ${sandbox.google?.domain}`);

    // The Application's callback receiver: its own process, so its CPU is visible.
    const receiver = forkTs('receiver', new URL('./handoff-receiver.ts', import.meta.url).pathname, {
      HANDOFF_IN_FLIGHT: String(inFlight),
    });
    const callbackUrl = await new Promise<string>((resolve, reject) => {
      receiver.proc.once('message', (m: { type?: string; callbackUrl?: string }) =>
        m.type === 'listening' && m.callbackUrl ? resolve(m.callbackUrl) : reject(new Error('receiver')),
      );
      receiver.proc.once('exit', () => reject(new Error(`receiver exited:\n${receiver.tail()}`)));
    });

    const port = await freePort();
    const apiUrl = `http://127.0.0.1:${port}`;
    const env = productEnv({
      databaseUrl: db.url,
      redisUrl: REDIS_URL,
      prefix,
      keys: BENCH_KEYS,
      sandboxUrl: sandbox.url,
      port,
    });
    const apiProc = spawnEc('ec api', ['api'], env);
    const worker = spawnEc('ec worker', ['worker'], env);
    await waitHealthy(apiUrl, apiProc);

    const reg = await registerThroughApi(apiUrl, env, sandbox, callbackUrl);
    receiver.proc.send({ type: 'config', apiUrl, clientId: reg.clientId, clientSecret: reg.clientSecret });
    log(`Application ${reg.clientId}, Service Account ${reg.serviceAccountId}; api ${apiUrl}`);

    const saAuth = { authorization: `Bearer ${reg.saToken}` };
    const machineBefore = machineCpu();
    const started = await startRunThroughApi(apiUrl, reg.saToken, {
      include: ['users'],
      scope: 'read_write',
      verify: 'directory',
      callback_url: callbackUrl,
      state: 'bench-handoff',
    });
    log(`run ${started.id} started`);

    // Poll once a second: the run's own timestamps give the provisioning time, and the bench's
    // polling draws from the same per-Application budget as the receiver's redemptions.
    let run = started;
    let finalAt = 0;
    let stats = await receiverStats(receiver);
    let lastLog = 0;
    let gaveUp = false;
    for (;;) {
      await sleep(1000);
      if (!finalAt) {
        run = (
          await api<{ provisioning_run: RunJson }>(apiUrl, `/v1/provisioning_runs/${started.id}`, {
            expect: 200,
            headers: saAuth,
          }).catch((err: Error) => {
            throw new Error(`${err.message}\n--- the last lines of ec api ---\n${apiProc.tail()}`);
          })
        ).provisioning_run;
        if (FINAL.includes(run.status)) {
          finalAt = Date.now();
          log(
            `run ${run.status}: ${run.provisioned} provisioned, ${run.skipped} skipped, ${run.failed} failed`,
          );
        }
      }
      stats = await receiverStats(receiver);
      for (const c of [apiProc, worker, sandbox.child]) {
        if (c.proc.exitCode !== null) {
          throw new Error(`${c.name} exited (${c.proc.exitCode}):\n${c.tail()}`);
        }
      }
      if (Date.now() - lastLog >= 5000) {
        lastLog = Date.now();
        log(
          `${run.status} provisioned ${run.provisioned}/${run.listed}; callbacks ${stats.distinct} distinct ` +
            `(${stats.callbacks} received), redeemed ${stats.ok}, lost ${stats.states.lost}, ` +
            `in flight ${stats.inFlight}, queued ${stats.states.queued}, 429s ${stats.rateLimited429}`,
        );
      }
      const settled = stats.states.queued === 0 && stats.states.inflight === 0;
      if (finalAt && settled && stats.distinct >= run.provisioned) {
        break;
      }
      if (finalAt && Date.now() - finalAt > giveUpMs) {
        gaveUp = true;
        log(`giving up ${giveUpMs / 1000} s after the run was final`);
        break;
      }
    }
    const cpu = {
      api: apiProc.cpuSeconds(),
      worker: worker.cpuSeconds(),
      sandbox: sandbox.child.cpuSeconds(),
      receiver: round(stats.cpuSeconds, 1),
    };
    const machine = machineCpuSince(machineBefore);

    const startMs = Date.parse(run.started_at ?? run.created_at);
    const finishMs = Date.parse(run.finished_at ?? new Date(finalAt).toISOString());
    const provisioningMs = finishMs - startMs;
    const accountsPerSec = perSec(run.provisioned, provisioningMs) ?? 0;
    const callbacksPerSec = perSec(stats.distinct, stats.lastNewCallbackAt - stats.firstCallbackAt);
    const exchangesPerSec = perSec(stats.ok, stats.lastOkAt - stats.firstOkAt);
    const lastTokenMs = stats.lastOkAt ? stats.lastOkAt - startMs : null;
    const ratio = lastTokenMs === null ? null : round(lastTokenMs / provisioningMs);
    const lostTotal = Object.values(stats.lost).reduce((a, b) => a + b, 0);
    const missing = Math.max(0, run.provisioned - stats.distinct);
    const everyAccountRedeemed = stats.ok === run.provisioned && lostTotal === 0 && missing === 0;
    const targets = {
      callbacks_per_sec_ge_accounts_per_sec: callbacksPerSec !== null && callbacksPerSec >= accountsPerSec,
      exchanges_per_sec_ge_1000: exchangesPerSec !== null && exchangesPerSec >= 1000,
      // The last redeemed token ends the hand-off only when every Account got one.
      ratio_le_1_5: everyAccountRedeemed && ratio !== null && ratio <= 1.5,
      every_account_redeemed: everyAccountRedeemed,
    };
    return {
      bench: 'handoff',
      at: new Date().toISOString(),
      users,
      in_flight: inFlight,
      run: {
        id: run.id,
        status: run.status,
        listed: run.listed,
        provisioned: run.provisioned,
        skipped: run.skipped,
        failed: run.failed,
        started_at: run.started_at,
        finished_at: run.finished_at,
      },
      accounts: run.provisioned,
      provisioning_seconds: round(provisioningMs / 1000),
      accounts_per_sec: accountsPerSec,
      callbacks: {
        distinct: stats.distinct,
        received: stats.callbacks,
        duplicates: stats.duplicates,
        error_callbacks: stats.errorCallbacks,
        error_keys: stats.errorKeys,
        bad_signature: stats.badSignature,
        missing,
        per_sec: callbacksPerSec,
        per_sec_from_run_start: perSec(stats.distinct, stats.lastNewCallbackAt - startMs),
        first_after_run_start_seconds: stats.firstCallbackAt
          ? round((stats.firstCallbackAt - startMs) / 1000)
          : null,
        last_after_run_start_seconds: stats.lastNewCallbackAt
          ? round((stats.lastNewCallbackAt - startMs) / 1000)
          : null,
      },
      exchanges: {
        ok: stats.ok,
        ok_per_sec: exchangesPerSec,
        ok_per_sec_from_run_start: stats.lastOkAt ? perSec(stats.ok, stats.lastOkAt - startMs) : null,
        ok_per_sec_saturated:
          stats.saturatedMs > 0 ? perSec(stats.okWhileSaturated, stats.saturatedMs) : null,
        saturated_seconds: round(stats.saturatedMs / 1000, 1),
        lost: lostTotal,
        lost_by_reason: stats.lost,
        failed_attempts_by_reason: stats.attemptFailures,
        reason_examples: stats.descriptions,
        rate_limited_429: stats.rateLimited429,
        retry_after_seconds_seen: stats.retryAfterSeen,
        retried_with_newer_code: stats.retriedWithNewerCode,
        unresolved: stats.states.queued + stats.states.inflight,
      },
      last_token_after_run_start_seconds: lastTokenMs === null ? null : round(lastTokenMs / 1000),
      ratio_last_token_to_provisioning: ratio,
      gave_up: gaveUp,
      cpu_seconds: cpu,
      machine_cpu: machine,
      targets: { ...targets, met: Object.values(targets).every(Boolean) },
      definitions: {
        provisioning_seconds: "the run's started_at → finished_at (GET /v1/provisioning_runs/{id})",
        accounts_per_sec: 'provisioned / provisioning_seconds',
        'callbacks.per_sec':
          'distinct Accounts called back / (first callback → last new Account called back)',
        'exchanges.ok_per_sec': 'codes redeemed / (first → last redeemed token)',
        'exchanges.ok_per_sec_saturated': `codes redeemed while all ${inFlight} slots were busy / that time`,
        ratio_last_token_to_provisioning: "(run's started_at → last redeemed token) / provisioning_seconds",
        'targets.ratio_le_1_5': 'ratio ≤ 1.5 and every Account redeemed (else the hand-off never ended)',
        lost: 'Accounts whose last redemption failed with anything but 429 (429s wait Retry-After and retry)',
        machine_cpu:
          "the whole machine from the run's start to the last redemption: share of all cores busy (near 1: CPU-bound), Postgres's CPU seconds",
      },
    };
  } finally {
    await stopAllChildren();
    sandbox?.close();
    await db?.drop();
    await dropQueueKeys(prefix).catch(() => {});
  }
}

export async function runAndReport(argv: string[]): Promise<void> {
  const result = await handoffBench(argv);
  writeResult(`handoff-${new Date().toISOString().slice(0, 10)}.json`, result);
}
