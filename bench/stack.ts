/**
 * The product as users run it, for the benchmarks: `ec sandbox` (a provider is remote), `ec api`,
 * `ec worker` processes, an Application made with `ec apps create`, a Service Account registered and
 * runs started through the HTTP API. Every child is killed when the bench exits (common.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type Child, freePort, REDIS_URL, runEc, sleep, spawnEc, track } from './common.js';

export const FINAL_RUN_STATUSES = ['completed', 'completed_with_errors', 'cancelled', 'failed'];

export type RunJson = {
  id: string;
  status: string;
  listed: number;
  provisioned: number;
  skipped: number;
  failed: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  callbacks_pending?: number;
  failures_by_reason?: unknown;
  skipped_by_reason?: unknown;
};

/** fetch + JSON, retrying 429s after their Retry-After (the bench's own calls share the budget). */
export async function api<T>(base: string, path: string, init: RequestInit & { expect: number }): Promise<T> {
  for (;;) {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    if (res.status === 429) {
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      continue;
    }
    if (res.status !== init.expect) {
      throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

export async function waitHealthy(base: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null) {
      throw new Error(`${child.name} exited (${child.proc.exitCode}):\n${child.tail()}`);
    }
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      throw new Error(`${child.name} not ready at ${base} within ${timeoutMs} ms:\n${child.tail()}`);
    }
    await sleep(200);
  }
}

export async function dropQueueKeys(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        await redis.unlink(...keys);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A Redis server of the bench's own (loopback, no persistence), so its command counts are exact. */
export async function ownRedis(): Promise<{ url: string; client: Redis; child: Child }> {
  const port = await freePort();
  const child = track(
    'redis-server',
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    // A fresh probe each time: a client whose first connect failed keeps reconnecting by itself.
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    const ok = await probe
      .connect()
      .then(() => probe.ping())
      .then(() => true)
      .catch(() => false);
    probe.disconnect();
    if (ok) {
      break;
    }
    if (i > 50 || child.proc.exitCode !== null) {
      throw new Error(`redis-server did not start on ${port} (is it installed?)\n${child.tail()}`);
    }
    await sleep(100);
  }
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  return { url, client, child };
}

/** One `INFO` field of a Redis server, as a number. */
export async function redisInfo(client: Redis, section: string, field: string): Promise<number> {
  const text = await client.info(section);
  const m = text.match(new RegExp(`^${field}:(\\d+)`, 'm'));
  return m ? Number(m[1]) : Number.NaN;
}

/** Peak resident set size of a child (VmHWM), in MB, or null. */
export function peakRssMb(child: Child): number | null {
  try {
    const status = readFileSync(`/proc/${child.proc.pid}/status`, 'utf8');
    const m = status.match(/^VmHWM:\s+(\d+) kB/m);
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

export type SandboxProcess = {
  child: Child;
  url: string;
  google?: { domain: string; adminEmail: string; credentials: unknown };
  microsoft?: { domain: string; tenantId: string; clientId: string; clientSecret: string };
  counters: () => Promise<SandboxCounters>;
  close: () => void;
};

export type SandboxCounters = {
  calls: Record<string, number>;
  quotaViolations: { total: number; byQuota: Record<string, number> };
  faultsInjected: Record<string, number>;
  tokensIssued: { google: number; microsoft: number; googleBySubject: Record<string, number> };
  batches?: { envelopes: number; requests: number };
};

/** `ec sandbox` in its own process, one provider, and what it printed about its org. */
export async function startSandboxProcess(opts: {
  provider: 'google' | 'microsoft';
  users: number;
  rooms: number;
  latencyMs?: number;
  jitterMs?: number;
  quotas?: boolean;
  seed?: string;
}): Promise<SandboxProcess> {
  const keyDir = mkdtempSync(join(tmpdir(), 'ec-bench-'));
  const keyFile = join(keyDir, 'google-key.json');
  const child = spawnEc(
    'ec sandbox',
    [
      'sandbox',
      ...['--host', '127.0.0.1', '--port', '0', '--seed', opts.seed ?? '7', '--provider', opts.provider],
      ...['--users', String(opts.users), '--rooms', String(opts.rooms)],
      ...['--latency', String(opts.latencyMs ?? 0), '--jitter', String(opts.jitterMs ?? 0)],
      ...(opts.quotas ? [] : ['--no-quotas']),
      ...['--key-file', keyFile],
    ],
    {},
  );
  const url = (await child.waitForLine(/listening on (http:\/\/\S+)/, 180_000))[1] ?? '';
  const field = async (name: string) =>
    (await child.waitForLine(new RegExp(`^\\s+${name}:\\s+(\\S+)`)))[1] ?? '';
  const sb: SandboxProcess = {
    child,
    url,
    counters: async () => (await (await fetch(`${url}/_sandbox/counters`)).json()) as SandboxCounters,
    close: () => rmSync(keyDir, { recursive: true, force: true }),
  };
  if (opts.provider === 'google') {
    const domain = await field('domain');
    const adminEmail = await field('admin email');
    await child.waitForLine(/Press Ctrl\+C/);
    sb.google = { domain, adminEmail, credentials: JSON.parse(readFileSync(keyFile, 'utf8')) };
  } else {
    sb.microsoft = {
      domain: await field('domain'),
      tenantId: await field('tenant id'),
      clientId: await field('client id'),
      clientSecret: await field('client secret'),
    };
    await child.waitForLine(/Press Ctrl\+C/);
  }
  return sb;
}

/** The environment every `ec` process of a bench gets. */
export function productEnv(o: {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  keys: string;
  sandboxUrl: string;
  port: number;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: o.prefix,
    ENCRYPTION_KEYS: o.keys,
    GOOGLE_TOKEN_URL: `${o.sandboxUrl}/token`,
    GOOGLE_API_URL: o.sandboxUrl,
    MICROSOFT_LOGIN_URL: o.sandboxUrl,
    MICROSOFT_GRAPH_URL: o.sandboxUrl,
    OUTBOUND_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(o.port),
    // A setting under study, passed through from the bench's own environment.
    ...(process.env.MICROSOFT_GRAPH_BATCH_SIZE
      ? { MICROSOFT_GRAPH_BATCH_SIZE: process.env.MICROSOFT_GRAPH_BATCH_SIZE }
      : {}),
    ...o.extra,
  };
}

/** An Application (`ec apps create`) and its Service Account for the sandbox's org (HTTP API). */
export async function registerThroughApi(
  apiUrl: string,
  env: Record<string, string>,
  sb: SandboxProcess,
  redirectUri: string,
): Promise<{ clientId: string; clientSecret: string; saToken: string; serviceAccountId: string }> {
  const created = JSON.parse(
    await runEc(['apps', 'create', '--name', 'bench', '--redirect-uri', redirectUri, '--json'], env),
  ) as { client_id: string; client_secret: string };
  const body = sb.google
    ? {
        provider: 'google',
        domain: sb.google.domain,
        admin_email: sb.google.adminEmail,
        credentials: sb.google.credentials,
      }
    : {
        provider: 'microsoft',
        domain: sb.microsoft?.domain,
        tenant_id: sb.microsoft?.tenantId,
        client_id: sb.microsoft?.clientId,
        client_secret: sb.microsoft?.clientSecret,
      };
  const sa = await api<{ access_token: string; service_account_id: string }>(apiUrl, '/v1/service_accounts', {
    method: 'POST',
    expect: 201,
    headers: { authorization: `Bearer ${created.client_secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      ...body,
      scope: 'service_account/accounts/manage',
      delegated_scope: 'read_write',
    }),
  });
  return {
    clientId: created.client_id,
    clientSecret: created.client_secret,
    saToken: sa.access_token,
    serviceAccountId: sa.service_account_id,
  };
}

/** `POST /v1/provisioning_runs` with the Service Account's token; the run as the API answered it. */
export async function startRunThroughApi(
  apiUrl: string,
  saToken: string,
  body: Record<string, unknown>,
): Promise<RunJson> {
  const { provisioning_run: run } = await api<{ provisioning_run: RunJson }>(
    apiUrl,
    '/v1/provisioning_runs',
    {
      method: 'POST',
      expect: 202,
      headers: { authorization: `Bearer ${saToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    },
  );
  return run;
}
