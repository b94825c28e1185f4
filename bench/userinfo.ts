/**
 * `GET /v1/userinfo` under load (issue 18): 10 connections for a few seconds against `ec api` (its own
 * process, with `ec worker` and `ec sandbox` beside it) with a real Account token, and against a
 * reference in the same run — a Fastify route doing one primary-key select in its own process
 * (bench/userinfo-reference.ts), in alternating rounds (reference, product, reference, …); each
 * product round is compared with the mean of the reference rounds either side of it.
 *
 *   npm run bench -- userinfo [--connections 10] [--seconds 5] [--rounds 3]
 *
 * Targets: rps ratio to the reference ≥ 0.5; p99 ≤ 5 ms; every answer a 200.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import {
  BENCH_KEYS,
  forkTs,
  freePort,
  round,
  scratchDatabase,
  sleep,
  spawnEc,
  stopAllChildren,
  writeResult,
} from './common.js';
import { api, ownRedis, productEnv, registerThroughApi, startSandboxProcess, waitHealthy } from './stack.js';

type Load = {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  rps: number;
  p50: number;
  p99: number;
  max: number;
};

/**
 * `connections` loops over one keep-alive undici pool, each sending the next request when the last
 * answered, for `seconds`. undici rather than fetch: fetch's Request/Response objects cost the load
 * generator more CPU than the route it measures, on the two cores it shares with the server.
 */
async function load(
  url: string,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<Load> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections, pipelining: 1 });
  const path = `${target.pathname}${target.search}`;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < until) {
          const t0 = performance.now();
          const res = await pool.request({ method: 'GET', path, headers });
          await res.body.arrayBuffer();
          latencies.push(performance.now() - t0);
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode !== 200) {
            errors += 1;
          }
        }
      }),
    );
  } finally {
    await pool.close();
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0, 2);
  return {
    requests: latencies.length,
    errors,
    statuses,
    rps: round((latencies.length - errors) / elapsed, 1),
    p50: q(0.5),
    p99: q(0.99),
    max: q(1),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

export async function runAndReport(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
    },
    allowPositionals: true,
  });
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
  const rounds = Math.max(1, Number(values.rounds));
  const log = (line: string) => process.stderr.write(`[userinfo] ${line}\n`);
  const db = await scratchDatabase({ migrate: true });
  const redis = await ownRedis();
  let code: string | undefined;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        authorization?: { code?: string };
      };
      code ??= body.authorization?.code;
      res.writeHead(200).end();
    });
  });
  const receiverPort = await freePort();
  await new Promise<void>((r) => receiver.listen(receiverPort, '127.0.0.1', r));
  const callbackUrl = `http://127.0.0.1:${receiverPort}/cb`;
  const sb = await startSandboxProcess({ provider: 'google', users: 20, rooms: 0 });
  try {
    const port = await freePort();
    const apiUrl = `http://127.0.0.1:${port}`;
    const env = productEnv({
      databaseUrl: db.url,
      redisUrl: redis.url,
      prefix: `ecb-${randomBytes(3).toString('hex')}`,
      keys: BENCH_KEYS,
      sandboxUrl: sb.url,
      port,
      // The bench measures the route, not the rate limiter: one Application sends more than the
      // default 2,000 requests/s here, so its limits are raised (the limiter still counts each
      // request). Any answer other than 200 is an error, and the target wants none.
      extra: { API_RATE_LIMIT_PER_SECOND: '1000000', API_RATE_LIMIT_PER_MINUTE: '60000000' },
    });
    const apiProc = spawnEc('ec api', ['api'], env);
    spawnEc('ec worker', ['worker'], env);
    await waitHealthy(apiUrl, apiProc);
    const reg = await registerThroughApi(apiUrl, env, sb, callbackUrl);
    const users = (await (await fetch(`${sb.url}/_sandbox/google/users?offset=0&limit=20`)).json()) as {
      users: { email: string; suspended?: boolean; mailbox?: boolean }[];
    };
    const email = users.users.find((u) => !u.suspended && u.mailbox !== false)?.email ?? '';
    await api(apiUrl, '/v1/service_account_authorizations', {
      method: 'POST',
      expect: 202,
      headers: { authorization: `Bearer ${reg.saToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, callback_url: callbackUrl, scope: 'read_only', state: 'bench' }),
    });
    for (let i = 0; !code && i < 300; i++) {
      await sleep(100);
    }
    if (!code) {
      throw new Error('no callback with a code');
    }
    const token = await api<{ access_token: string; sub: string }>(apiUrl, '/oauth/token', {
      method: 'POST',
      expect: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: reg.clientId,
        client_secret: reg.clientSecret,
        grant_type: 'authorization_code',
        code,
        redirect_uri: callbackUrl,
      }),
    });
    const ref = forkTs('reference', new URL('./userinfo-reference.ts', import.meta.url).pathname, {
      DATABASE_URL: db.url,
    });
    const refUrl = (await ref.waitForLine(/^listening (\S+)/, 60_000))[1] ?? '';
    const refPath = `${refUrl}/ref/${token.sub}`;
    const auth = { authorization: `Bearer ${token.access_token}` };
    const sample = await (await fetch(`${apiUrl}/v1/userinfo`, { headers: auth })).text();
    const calendars = (
      JSON.parse(sample) as { 'cronofy.data': { profiles: { profile_calendars: unknown[] }[] } }
    )['cronofy.data'].profiles[0]?.profile_calendars.length;
    log(`userinfo answers ${sample.length} bytes, ${calendars} calendars`);
    // Warm both up, then alternate reference and product: ref, product, ref, …, ref. Each product
    // round is compared with the mean of the reference rounds either side of it (the machine's speed
    // drifts within minutes); the figures reported are the median round's.
    await load(refPath, {}, connections, 1);
    await load(`${apiUrl}/v1/userinfo`, auth, connections, 1);
    log(`measuring: ${rounds} rounds of ${seconds} s`);
    const refs: Load[] = [await load(refPath, {}, connections, seconds)];
    const products: Load[] = [];
    for (let i = 0; i < rounds; i++) {
      products.push(await load(`${apiUrl}/v1/userinfo`, auth, connections, seconds));
      refs.push(await load(refPath, {}, connections, seconds));
    }
    const ratios = products.map((p, i) => p.rps / (((refs[i]?.rps ?? 0) + (refs[i + 1]?.rps ?? 0)) / 2));
    const ratio = median(ratios);
    const p99 = median(products.map((p) => p.p99));
    const errors = products.reduce((n, p) => n + p.errors, 0);
    const result = {
      bench: 'userinfo',
      at: new Date().toISOString(),
      connections,
      seconds,
      rounds,
      response: { bytes: sample.length, calendars },
      product: {
        rps: round(median(products.map((p) => p.rps)), 1),
        p50: round(median(products.map((p) => p.p50)), 2),
        p99: round(p99, 2),
        requests: products.reduce((n, p) => n + p.requests, 0),
        errors,
        rounds: products,
      },
      reference: {
        rps: round(median(refs.map((r) => r.rps)), 1),
        p50: round(median(refs.map((r) => r.p50)), 2),
        p99: round(median(refs.map((r) => r.p99)), 2),
        requests: refs.reduce((n, r) => n + r.requests, 0),
        errors: refs.reduce((n, r) => n + r.errors, 0),
        rounds: refs,
      },
      ratios: ratios.map((r) => round(r)),
      ratio_rps: round(ratio),
      targets: { ratio_rps: '≥ 0.5', p99_ms: '≤ 5', errors: '0' },
      met: { ratio_rps: ratio >= 0.5, p99_ms: p99 <= 5, errors: errors === 0 },
    };
    writeResult(`userinfo-${new Date().toISOString().slice(0, 10)}.json`, result);
  } finally {
    await stopAllChildren();
    receiver.close();
    sb.close();
    redis.client.disconnect();
    await db.drop();
  }
}
