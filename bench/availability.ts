/**
 * Availability over rooms (issue 16): `POST /v1/availability` for 100 rooms (required: 1, 30 minutes,
 * a one-week window) against `ec sandbox` in its own process at 50 ms latency, for a Google domain
 * and a Microsoft tenant. Measured in the same run: provider calls per query (counted by the
 * sandbox; target for Google ⌈rooms ÷ 50⌉), and p50/p99 latency as a ratio to one sandbox call's
 * latency (a bare request to the same sandbox, answered after the same injected latency).
 *
 *   npm run bench -- availability [--rooms 100] [--queries 30] [--latency 50]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { buildServer } from '../src/api/server.js';
import { loadConfig } from '../src/config.js';
import { findRun } from '../src/db/queries/runs.js';
import { startWorkers } from '../src/jobs/worker.js';
import { createLogger } from '../src/logger.js';
import { GOOGLE_FREEBUSY_BATCH } from '../src/providers/google/calendar-data.js';
import { GRAPH_SCHEDULE_BATCH } from '../src/providers/microsoft/calendar-data.js';
import { createRuntime } from '../src/runtime.js';
import { createApplication } from '../src/services/applications.js';
import { createRun } from '../src/services/provisioning.js';
import { registerServiceAccount } from '../src/services/service-accounts.js';
import { BENCH_KEYS, round, scratchDatabase, writeResult } from './common.js';
import { type SandboxProcess, startSandboxProcess } from './stack.js';

type Provider = 'google' | 'microsoft';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const sumCalls = (calls: Record<string, number>) =>
  Object.entries(calls)
    .filter(([k]) => !k.includes('/_sandbox'))
    .reduce((n, [, v]) => n + v, 0);

/** One bare request to the sandbox (a provider route, answered after the injected latency). */
async function sandboxCallMs(sb: SandboxProcess, provider: Provider): Promise<number> {
  const started = performance.now();
  const res = await fetch(
    provider === 'google' ? `${sb.url}/calendar/v3/users/me/calendarList` : `${sb.url}/v1.0/users/x/calendar`,
  );
  await res.arrayBuffer();
  return performance.now() - started;
}

async function once(provider: Provider, rooms: number, queries: number, latencyMs: number) {
  const db = await scratchDatabase({ migrate: true });
  const sb = await startSandboxProcess({ provider, users: 10, rooms, latencyMs, quotas: true });
  const config = loadConfig(
    {
      DATABASE_URL: db.url,
      QUEUE_PREFIX: `ecb-${randomBytes(4).toString('hex')}`,
      ENCRYPTION_KEYS: BENCH_KEYS,
      GOOGLE_TOKEN_URL: `${sb.url}/token`,
      GOOGLE_API_URL: sb.url,
      MICROSOFT_LOGIN_URL: sb.url,
      MICROSOFT_GRAPH_URL: sb.url,
      OUTBOUND_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'silent',
    },
    'test',
  );
  const logger = createLogger({
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  const runtime = createRuntime(config, logger, { dbPoolSize: 10 });
  const workers = startWorkers(runtime.app, runtime.deps.redis());
  const server = await buildServer(runtime.app, {
    rateLimit: { perSecond: 1_000_000, perMinute: 1_000_000 },
  });
  try {
    await server.listen({ host: '127.0.0.1', port: 0 });
    const address = server.server.address();
    const apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const { application, clientSecret } = await createApplication(runtime.app, {
      name: 'bench',
      redirectUris: [],
      actor: 'bench',
    });
    const credentials =
      provider === 'google'
        ? {
            provider,
            domain: sb.google?.domain,
            admin_email: sb.google?.adminEmail,
            credentials: sb.google?.credentials,
          }
        : {
            provider,
            domain: sb.microsoft?.domain,
            tenant_id: sb.microsoft?.tenantId,
            client_id: sb.microsoft?.clientId,
            client_secret: sb.microsoft?.clientSecret,
          };
    const { serviceAccount } = await registerServiceAccount(
      runtime.app,
      application,
      credentials as Parameters<typeof registerServiceAccount>[2],
      'bench',
    );
    const run = await createRun(runtime.app, serviceAccount, null, {
      include: ['rooms'],
      scope: 'free_busy',
      verify: 'mailbox',
      dry_run: false,
      callback_url: null,
      state: null,
    });
    for (;;) {
      const now = await findRun(runtime.app.db, run.id);
      if (now && !['queued', 'listing', 'provisioning'].includes(now.status)) {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const subs = (
      await runtime.app.db.execute<{ id: string }>(
        sql`select id from accounts where service_account_id = ${serviceAccount.id} and kind = 'room' order by id`,
      )
    ).map((r) => r.id);
    const start = new Date(
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 7),
    );
    const body = JSON.stringify({
      participants: [{ members: subs.map((sub) => ({ sub })), required: 1 }],
      required_duration: { minutes: 30 },
      available_periods: [
        { start: start.toISOString(), end: new Date(start.getTime() + 7 * 86_400_000).toISOString() },
      ],
      start_interval: { minutes: 30 },
      response_format: 'slots',
    });
    const ask = async () => {
      const res = await fetch(`${apiUrl}/v1/availability`, {
        method: 'POST',
        headers: { authorization: `Bearer ${clientSecret}`, 'content-type': 'application/json' },
        body,
      });
      const json = (await res.json()) as { available_periods?: unknown[]; available_slots?: unknown[] };
      if (res.status !== 200) {
        throw new Error(`availability answered ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
      }
      return json;
    };
    await ask(); // warm: tokens fetched, clients built
    const callMs: number[] = [];
    const queryMs: number[] = [];
    const before = sumCalls((await sb.counters()).calls);
    let periods = 0;
    let slots = 0;
    for (let k = 0; k < queries; k++) {
      const started = performance.now();
      const answer = await ask();
      queryMs.push(performance.now() - started);
      periods = answer.available_periods?.length ?? 0;
      slots = answer.available_slots?.length ?? 0;
    }
    const after = (await sb.counters()).calls;
    for (let k = 0; k < queries; k++) {
      callMs.push(await sandboxCallMs(sb, provider));
    }
    queryMs.sort((a, b) => a - b);
    callMs.sort((a, b) => a - b);
    const batch = provider === 'google' ? GOOGLE_FREEBUSY_BATCH : GRAPH_SCHEDULE_BATCH;
    const callP50 = percentile(callMs, 50);
    return {
      provider,
      rooms: subs.length,
      queries,
      latencyMs,
      windowDays: 7,
      answer: { periods, slots },
      providerCallsPerQuery: round((sumCalls(after) - before) / queries, 2),
      targetCallsPerQuery: Math.ceil(subs.length / batch),
      batchSize: batch,
      quotaViolations: (await sb.counters()).quotaViolations.total,
      sandboxCallMs: { p50: round(callP50, 1), p99: round(percentile(callMs, 99), 1) },
      queryMs: { p50: round(percentile(queryMs, 50), 1), p99: round(percentile(queryMs, 99), 1) },
      ratioToSandboxCall: {
        p50: round(percentile(queryMs, 50) / callP50, 2),
        p99: round(percentile(queryMs, 99) / callP50, 2),
      },
    };
  } finally {
    await server.close();
    await workers.close();
    await runtime.close();
    await sb.child.stop();
    sb.close();
    await db.drop();
  }
}

export async function runAndReport(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rooms: { type: 'string', default: '100' },
      queries: { type: 'string', default: '30' },
      latency: { type: 'string', default: '50' },
    },
  });
  const results = [];
  for (const provider of ['google', 'microsoft'] as const) {
    results.push(await once(provider, Number(values.rooms), Number(values.queries), Number(values.latency)));
  }
  const date = new Date().toISOString().slice(0, 10);
  writeResult(`availability-${date}.json`, { bench: 'availability', date, results });
}
