/**
 * `GET /v1/userinfo` under load (issue 18): 10 connections for a few seconds against `ec api` (its own
 * process, with `ec worker` and `ec sandbox` beside it) with a real Account token, and against a
 * reference in the same run — a Fastify route doing one primary-key select in its own process
 * (bench/userinfo-reference.ts), measured before and after the product (their mean is the reference).
 *
 *   npm run bench -- userinfo [--connections 10] [--seconds 5]
 *
 * Targets: rps ratio to the reference ≥ 0.5; p99 ≤ 5 ms.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
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

type Load = { requests: number; errors: number; rps: number; p50: number; p99: number; max: number };

/** `connections` loops, each sending the next request when the last answered, for `seconds`. */
async function load(
  url: string,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (res.status !== 200) {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0, 2);
  return {
    requests: latencies.length,
    errors,
    rps: round(latencies.length / elapsed, 1),
    p50: q(0.5),
    p99: q(0.99),
    max: q(1),
  };
}

export async function runAndReport(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { connections: { type: 'string', default: '10' }, seconds: { type: 'string', default: '5' } },
    allowPositionals: true,
  });
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
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
    // Warm both up, then reference, product, reference.
    await load(refPath, {}, connections, 1);
    await load(`${apiUrl}/v1/userinfo`, auth, connections, 1);
    log('measuring');
    const before = await load(refPath, {}, connections, seconds);
    const product = await load(`${apiUrl}/v1/userinfo`, auth, connections, seconds);
    const after = await load(refPath, {}, connections, seconds);
    const refRps = (before.rps + after.rps) / 2;
    const result = {
      bench: 'userinfo',
      at: new Date().toISOString(),
      connections,
      seconds,
      product,
      reference: { before, after, rps: round(refRps, 1) },
      ratio_rps: round(product.rps / refRps),
      targets: { ratio_rps: '≥ 0.5', p99_ms: '≤ 5' },
      met: { ratio_rps: product.rps / refRps >= 0.5, p99_ms: product.p99 <= 5 },
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
