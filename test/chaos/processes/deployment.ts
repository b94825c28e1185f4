import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { type Child, runEc, type ScratchDatabase, scratchDatabase, spawnEc } from '../../../bench/common.js';
import { createDatabase, type Database } from '../../../src/db/client.js';
import { runMigrations } from '../../../src/db/migrate.js';
import { SandboxClient } from '../../../src/sandbox/client.js';
import type { CountersSnapshot } from '../../../src/sandbox/counters.js';
import { TEST_ENCRYPTION_KEYS } from '../../helpers/config.js';
import { type OwnPostgres, ownPostgres } from '../../helpers/own-postgres.js';
import { freePort, type OwnRedis, ownRedis } from '../../helpers/own-redis.js';
import { type ChaosReceiver, startChaosReceiver } from './receiver.js';

/**
 * One deployment for one chaos scenario, every part its own process as users run it: `ec sandbox`
 * (the Google org), `ec api`, `workers` × `ec worker`, `ec scheduler` — against a Redis of its own
 * (started here, stopped and restarted by scenarios) and a scratch database, on the shared Postgres
 * or, with `ownPostgres`, on a cluster of its own that the scenario may restart. The callback
 * receiver runs in the test process so scenarios can switch its failures.
 */
export type DeploymentOptions = {
  users: number;
  workers: number;
  latencyMs?: number;
  ownPostgres?: boolean;
};

export type RunJson = {
  id: string;
  status: string;
  counts: { listed: number; provisioned: number; skipped: number; failed: number; pending: number };
  failures_by_reason: { error_key: string; count: number }[];
  skipped_by_reason: { error_key: string; count: number }[];
};

export type Tenant = { clientId: string; clientSecret: string; saToken: string; serviceAccountId: string };

export type Deployment = {
  apiUrl: string;
  sandbox: SandboxClient;
  receiver: ChaosReceiver;
  redis: OwnRedis;
  postgres: OwnPostgres | undefined;
  database: Database;
  workers: (Child | undefined)[];
  startWorker: (i: number) => void;
  /** SIGKILL (a crashed container); the slot is empty until startWorker. */
  killWorker: (i: number) => Promise<void>;
  /** Everything every process wrote to stdout and stderr so far (at `LOG_LEVEL` warn). */
  logText: () => string;
  /** The secrets the deployment issued or was given: the Google key, client secrets, Service Account tokens. */
  secrets: () => string[];
  /** Children that exited without the scenario stopping them, with their last lines. */
  unexpectedExits: () => string[];
  /** A new Application and its Service Account for the sandbox's Google org. */
  tenant: (name: string) => Promise<Tenant>;
  api: <T>(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ) => Promise<{ status: number; json: T }>;
  startRun: (t: Tenant, callbackPath: string) => Promise<RunJson>;
  getRun: (t: Tenant, id: string) => Promise<RunJson | undefined>;
  waitForRun: (t: Tenant, id: string, timeoutMs: number) => Promise<RunJson>;
  /** Provider calls the sandbox answered (data APIs; token grants apart), and quota violations. */
  providerCalls: () => Promise<{
    calls: number;
    tokens: number;
    quotaViolations: number;
    snapshot: CountersSnapshot;
  }>;
  activeRuns: () => Promise<number>;
  close: () => Promise<void>;
};

const FINAL = ['completed', 'completed_with_errors', 'cancelled', 'failed'];

export async function deploy(opts: DeploymentOptions): Promise<Deployment> {
  const redis = await ownRedis();
  await redis.start();
  const pg = opts.ownPostgres ? await ownPostgres() : undefined;
  let scratch: ScratchDatabase | undefined;
  let dbUrl: string;
  if (pg) {
    dbUrl = await pg.createDatabase('ec_chaos');
    await runMigrations(dbUrl);
  } else {
    scratch = await scratchDatabase({ migrate: true });
    dbUrl = scratch.url;
  }
  const keyDir = mkdtempSync(join(tmpdir(), 'ec-chaos-'));
  const keyFile = join(keyDir, 'google-key.json');
  const stopping = new Set<Child>();
  const all: Child[] = [];
  const exits: string[] = [];
  const logs: string[] = [];
  const issued: string[] = [];
  const watch = (c: Child) => {
    all.push(c);
    for (const stream of [c.proc.stdout, c.proc.stderr]) {
      stream?.on('data', (chunk: string | Buffer) => logs.push(String(chunk)));
    }
    c.proc.once('exit', (code, signal) => {
      if (!stopping.has(c)) {
        exits.push(`${c.name} exited (${code ?? signal}):\n${c.tail()}`);
      }
    });
    return c;
  };
  const sandboxChild = watch(
    spawnEc(
      'ec sandbox',
      [
        'sandbox',
        ...['--host', '127.0.0.1', '--port', '0', '--seed', 'chaos', '--provider', 'google'],
        ...['--users', String(opts.users), '--rooms', '0', '--latency', String(opts.latencyMs ?? 0)],
        ...['--key-file', keyFile],
      ],
      {},
    ),
  );
  const sandboxUrl = (await sandboxChild.waitForLine(/listening on (http:\/\/\S+)/, 120_000))[1] ?? '';
  const domain = (await sandboxChild.waitForLine(/^\s+domain:\s+(\S+)/))[1] ?? '';
  const adminEmail = (await sandboxChild.waitForLine(/^\s+admin email:\s+(\S+)/))[1] ?? '';
  await sandboxChild.waitForLine(/Press Ctrl\+C/);
  const credentials = JSON.parse(readFileSync(keyFile, 'utf8')) as { private_key: string };
  // The key's base64 lines: found whole in a log line however the PEM around them was escaped.
  issued.push(...credentials.private_key.split('\n').filter((l) => l.length >= 40));
  const sandbox = new SandboxClient(sandboxUrl);
  const receiver = await startChaosReceiver();
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: dbUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: 'ecc',
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    GOOGLE_TOKEN_URL: `${sandboxUrl}/token`,
    GOOGLE_API_URL: sandboxUrl,
    MICROSOFT_LOGIN_URL: sandboxUrl,
    MICROSOFT_GRAPH_URL: sandboxUrl,
    OUTBOUND_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    // Stalled jobs of a killed worker come back after this (default 30 s).
    WORKER_LOCK_SECONDS: '10',
  };
  const apiChild = watch(spawnEc('ec api', ['api'], env));
  for (let i = 0; ; i++) {
    const ok = await fetch(`${apiUrl}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) {
      break;
    }
    if (i > 300 || apiChild.proc.exitCode !== null) {
      throw new Error(`ec api did not start:\n${apiChild.tail()}`);
    }
    await sleep(100);
  }
  const workers: (Child | undefined)[] = [];
  const startWorker = (i: number) => {
    workers[i] = watch(spawnEc(`ec worker #${i}`, ['worker'], env));
  };
  for (let i = 0; i < opts.workers; i++) {
    startWorker(i);
  }
  watch(spawnEc('ec scheduler', ['scheduler'], env));
  const database = createDatabase(dbUrl, { max: 3 });

  const api: Deployment['api'] = async (method, path, token, body) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, json: json as never };
  };
  const getRun = async (t: Tenant, id: string) => {
    const r = await api<{ provisioning_run: RunJson }>('GET', `/v1/provisioning_runs/${id}`, t.saToken).catch(
      () => undefined,
    );
    return r?.status === 200 ? r.json.provisioning_run : undefined;
  };
  return {
    apiUrl,
    sandbox,
    receiver,
    redis,
    postgres: pg,
    database,
    workers,
    startWorker,
    killWorker: async (i) => {
      const w = workers[i];
      workers[i] = undefined;
      if (!w || w.proc.exitCode !== null) {
        return;
      }
      stopping.add(w);
      const exited = new Promise((r) => w.proc.once('exit', r));
      w.proc.kill('SIGKILL');
      await exited;
    },
    unexpectedExits: () => [...exits],
    logText: () => logs.join(''),
    secrets: () => [...issued],
    tenant: async (name) => {
      const created = JSON.parse(await runEc(['apps', 'create', '--name', name, '--json'], env)) as {
        client_id: string;
        client_secret: string;
      };
      const r = await api<{ access_token: string; service_account_id: string }>(
        'POST',
        '/v1/service_accounts',
        created.client_secret,
        { provider: 'google', domain, admin_email: adminEmail, credentials },
      );
      if (r.status !== 201) {
        throw new Error(`registering a Service Account: ${r.status} ${JSON.stringify(r.json)}`);
      }
      issued.push(created.client_secret, r.json.access_token);
      return {
        clientId: created.client_id,
        clientSecret: created.client_secret,
        saToken: r.json.access_token,
        serviceAccountId: r.json.service_account_id,
      };
    },
    api,
    startRun: async (t, callbackPath) => {
      const r = await api<{ provisioning_run: RunJson }>('POST', '/v1/provisioning_runs', t.saToken, {
        include: ['users'],
        callback_url: `${receiver.url}${callbackPath}`,
        state: callbackPath,
      });
      if (r.status !== 202) {
        throw new Error(`starting a run: ${r.status} ${JSON.stringify(r.json)}`);
      }
      return r.json.provisioning_run;
    },
    getRun,
    waitForRun: async (t, id, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      let last: RunJson | undefined;
      for (;;) {
        last = (await getRun(t, id)) ?? last;
        if (last && FINAL.includes(last.status)) {
          return last;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `run ${id} still ${last?.status} after ${timeoutMs} ms: ${JSON.stringify(last?.counts)}\n${exits.join('\n')}`,
          );
        }
        await sleep(500);
      }
    },
    providerCalls: async () => {
      const snapshot = await sandbox.counters();
      let calls = 0;
      let tokens = 0;
      for (const [key, n] of Object.entries(snapshot.calls)) {
        if (/ \/token\b|\/oauth2\//.test(key)) {
          tokens += n;
        } else {
          calls += n;
        }
      }
      return { calls, tokens, quotaViolations: snapshot.quotaViolations.total, snapshot };
    },
    activeRuns: async () => {
      const [row] = await database.db.execute<{ n: number }>(
        sql`select count(*)::int as n from provisioning_runs where status in ('queued', 'listing', 'provisioning')`,
      );
      return row?.n ?? -1;
    },
    close: async () => {
      for (const c of all) {
        stopping.add(c);
      }
      await Promise.all(all.map((c) => c.stop(5_000)));
      await receiver.close();
      await database.close();
      await redis.stop();
      await pg?.stop();
      await scratch?.drop();
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}
