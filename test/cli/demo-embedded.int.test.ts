import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { answers, type DemoServices, startDemoServices } from '../../src/cli/embedded-services.js';
import { runEc } from '../helpers/cli.js';
import { freePort } from '../helpers/own-redis.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

/**
 * `ec demo` on a machine where nothing answers: it starts an embedded Postgres and a redis-server of
 * its own. The shared servers on 5432/6379 keep running, so the "nothing answers" cases point
 * DATABASE_URL / REDIS_URL at unused ports and pass `--embedded`, which makes the demo treat a dead
 * configured URL like a missing default one.
 */
const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));
const TINY = [
  '--google-users',
  '20',
  '--google-rooms',
  '2',
  '--microsoft-users',
  '10',
  '--microsoft-rooms',
  '1',
];
const childBase = () => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  NO_PROXY: '127.0.0.1,localhost',
});
const opened: DemoServices[] = [];
afterAll(async () => {
  for (const s of opened) {
    await s.close();
  }
});
const lines: string[] = [];
const say = (line: string) => {
  lines.push(line);
};
const portOf = (url: string) => Number(new URL(url).port);

async function pong(url: string): Promise<string> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.ping();
  } finally {
    r.disconnect();
  }
}

describe('startDemoServices', () => {
  it('starts an embedded Postgres and a redis-server where nothing answers, and stops both', async () => {
    const deadPg = await freePort();
    const deadRedis = await freePort();
    const s = await startDemoServices({
      databaseUrl: `postgres://postgres@127.0.0.1:${deadPg}/postgres`,
      redisUrl: `redis://127.0.0.1:${deadRedis}`,
      embedded: true,
      say,
    });
    opened.push(s);
    expect(s.started).toEqual(['postgres', 'redis']);
    expect(portOf(s.databaseUrl)).not.toBe(deadPg);
    expect(portOf(s.redisUrl)).not.toBe(deadRedis);
    expect(lines.join('\n')).toMatch(/No Postgres answers at 127\.0\.0\.1:\d+: starting an embedded one/);
    expect(lines.join('\n')).toMatch(
      /No Redis answers at redis:\/\/127\.0\.0\.1:\d+: starting .*redis-server/,
    );

    const sql = postgres(s.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ v: string }[]>`select current_setting('server_version_num') as v`;
      expect(Number(row?.v)).toBeGreaterThan(140_000);
    } finally {
      await sql.end();
    }
    expect(await pong(s.redisUrl)).toBe('PONG');

    await s.close();
    expect(await answers('127.0.0.1', portOf(s.databaseUrl))).toBe(false);
    expect(await answers('127.0.0.1', portOf(s.redisUrl))).toBe(false);
  }, 120_000);

  it('starts nothing when the configured servers answer (the shared ones), even with --embedded', async () => {
    const s = await startDemoServices({
      databaseUrl: inject('adminDatabaseUrl'),
      redisUrl: TEST_REDIS_URL,
      embedded: true,
      say,
    });
    opened.push(s);
    expect(s.started).toEqual([]);
    expect(s.databaseUrl).toBe(inject('adminDatabaseUrl'));
    expect(s.redisUrl).toBe(TEST_REDIS_URL);
  });

  it('uses a set but dead DATABASE_URL / REDIS_URL as they are without --embedded', async () => {
    const databaseUrl = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    const redisUrl = `redis://127.0.0.1:${await freePort()}`;
    const s = await startDemoServices({ databaseUrl, redisUrl, embedded: false, say });
    opened.push(s);
    expect(s).toMatchObject({ databaseUrl, redisUrl, started: [] });
  });
});

describe('ec demo --embedded', () => {
  it('completes with its own Postgres and Redis, then leaves nothing running', async () => {
    const res = await runEc(
      [
        'demo',
        '--embedded',
        '--exit',
        '--json',
        '--google-users',
        '60',
        '--google-rooms',
        '5',
        '--microsoft-users',
        '30',
        '--microsoft-rooms',
        '3',
      ],
      {
        DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
        QUEUE_PREFIX: `ec-demo-e-${randomBytes(4).toString('hex')}`,
        PORT: '0',
      },
      180_000,
    );
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { runs: { status: string; counts: { listed: number } }[] };
    expect(out.runs.map((r) => r.status).sort()).toEqual(['completed', 'completed_with_errors']);
    expect(out.runs.map((r) => r.counts.listed).sort((a, b) => a - b)).toEqual([33, 65]);
    const pgUrl = /Embedded Postgres at (postgres:\/\/\S+)/.exec(res.stderr)?.[1];
    const redisUrl = /Redis at (redis:\/\/\S+)/.exec(res.stderr)?.[1];
    expect(pgUrl, res.stderr).toBeDefined();
    expect(redisUrl, res.stderr).toBeDefined();
    // Stopped on exit: neither port answers any more.
    expect(await answers('127.0.0.1', portOf(pgUrl ?? ''))).toBe(false);
    expect(await answers('127.0.0.1', portOf(redisUrl ?? ''))).toBe(false);
  }, 200_000);

  it('stops them on Ctrl-C while serving, and when it fails after starting them', async () => {
    const env = {
      ...childBase(),
      DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      QUEUE_PREFIX: `ec-demo-e-${randomBytes(4).toString('hex')}`,
      PORT: '0',
    };
    const child = spawn(process.execPath, [EC, 'demo', '--embedded', ...TINY], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const deadline = Date.now() + 120_000;
    while (!stderr.includes('Serving until Ctrl-C') && child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(stderr).toContain('Serving until Ctrl-C');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const pgPort = portOf(/Embedded Postgres at (postgres:\/\/\S+)/.exec(stderr)?.[1] ?? '');
    expect(await answers('127.0.0.1', pgPort)).toBe(false);
    expect(await answers('127.0.0.1', portOf(/Redis at (redis:\/\/\S+)/.exec(stderr)?.[1] ?? ''))).toBe(
      false,
    );

    // A bad PORT is found only after both were started: the exit still stops them.
    const failed = await runEc(['demo', '--embedded', '--exit', ...TINY], { ...env, PORT: 'not-a-port' });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('PORT: must be a port number');
    const pg2 = /Embedded Postgres at (postgres:\/\/\S+)/.exec(failed.stderr)?.[1];
    expect(pg2, failed.stderr).toBeDefined();
    expect(await answers('127.0.0.1', portOf(pg2 ?? ''))).toBe(false);
  }, 200_000);

  // The real case, DATABASE_URL and REDIS_URL unset and nothing on 5432/6379: in a network namespace
  // of its own (root only), where the shared servers are not reachable.
  const isolated = spawnSync('unshare', ['-n', 'true']).status === 0;
  it.runIf(isolated)(
    'completes with no URLs set and nothing on 5432/6379 (own network namespace)',
    async () => {
      const res = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'unshare',
          [
            '-n',
            'sh',
            '-c',
            'ip link set lo up; exec "$0" "$@"',
            process.execPath,
            EC,
            'demo',
            '--exit',
            '--json',
            ...TINY,
          ],
          { env: { ...childBase(), PORT: '0' }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toMatch(/No Postgres answers at 127\.0\.0\.1:5432: starting an embedded one/);
      expect(res.stderr).toMatch(/No Redis answers at redis:\/\/127\.0\.0\.1:6379: starting/);
      const out = JSON.parse(res.stdout) as { runs: { status: string }[] };
      expect(out.runs.map((r) => r.status).sort()).toEqual(['completed', 'completed_with_errors']);
    },
    200_000,
  );

  it('says what to install when no Redis answers and redis-server is not on the PATH', async () => {
    const res = await runEc(['demo', '--embedded', '--exit'], {
      PATH: '/nonexistent',
      DATABASE_URL: inject('adminDatabaseUrl'),
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /No Redis answers at redis:\/\/127\.0\.0\.1:\d+ and there is no redis-server on the PATH: install Redis .* or set REDIS_URL/,
    );
    expect(res.stderr).not.toContain('Embedded Postgres at');
  });
});
