import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/**
 * A real PgBouncer (Debian's `pgbouncer` package) in transaction mode, on a free loopback port, in
 * front of the tests' Postgres: every database name maps to the same-named database there, logged in
 * as `postgres` (`auth_type = any`, as the local Postgres trusts loopback). Started before the file's
 * tests and stopped after them. PgBouncer refuses to run as root, so as root it drops to `postgres`.
 */
export type PgBouncer = {
  readonly port: number;
  /** `direct` (a postgres:// URL of the tests' Postgres) rewritten to go through PgBouncer. */
  url: (direct: string) => string;
};

export function pgbouncerAvailable(): boolean {
  try {
    execFileSync('pgbouncer', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function usePgBouncer(opts: { upstreamPort?: number; poolSize?: number } = {}): PgBouncer {
  // Chosen now (a free port seen at load time), so the URL is known to the hooks declared after this.
  let port = 0;
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  let log = '';

  beforeAll(async () => {
    port = await freePort();
    dir = await mkdtemp(join(tmpdir(), 'ec-pgbouncer-'));
    await chmod(dir, 0o777);
    const ini = join(dir, 'pgbouncer.ini');
    await writeFile(
      ini,
      [
        '[databases]',
        `* = host=127.0.0.1 port=${opts.upstreamPort ?? 5432} user=postgres`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = any',
        'pool_mode = transaction',
        `default_pool_size = ${opts.poolSize ?? 10}`,
        'max_client_conn = 500',
        // postgres.js sends these at startup; PgBouncer passes on only what it tracks.
        'ignore_startup_parameters = extra_float_digits,search_path',
        'server_reset_query =',
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        'admin_users = postgres',
      ].join('\n'),
    );
    await chmod(ini, 0o644);
    const asRoot = process.getuid?.() === 0;
    child = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), ini], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d) => {
      log += String(d);
    });
    child.stderr?.on('data', (d) => {
      log += String(d);
    });
    const deadline = Date.now() + 15_000;
    while (!(await answers(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`pgbouncer did not start (is Debian's pgbouncer installed?): ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  return {
    get port() {
      return port;
    },
    url: (direct) => {
      const u = new URL(direct);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
  };
}
