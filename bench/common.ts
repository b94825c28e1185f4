/**
 * Helpers shared by the benchmarks: a scratch database, the encryption keyring, results files, and
 * child processes (`ec api`, `ec worker`, `ec sandbox`, …) that are all killed when the bench exits.
 */
import { type ChildProcess, type ForkOptions, fork, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { runMigrations } from '../src/db/migrate.js';
import { freePort } from '../src/lib/net.js';

export { freePort };

export const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A fixed keyring: the benches' databases are scratch ones. */
export const BENCH_KEYS = `bench:${Buffer.alloc(32, 3).toString('base64')}`;

export type ScratchDatabase = { name: string; url: string; drop: () => Promise<void> };

/** Creates an empty database `ec_bench_<random>` on ADMIN_URL's server, migrated when `migrate`. */
export async function scratchDatabase(opts: { migrate?: boolean } = {}): Promise<ScratchDatabase> {
  const name = `ec_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const drop = async () => {
    try {
      // BENCH_KEEP_DATABASE=1 leaves it for a look afterwards (table statistics, plans).
      if (process.env.BENCH_KEEP_DATABASE === '1') {
        process.stderr.write(`bench: kept database ${name}\n`);
        return;
      }
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await admin.end();
    }
  };
  if (opts.migrate) {
    try {
      await runMigrations(url.toString());
    } catch (err) {
      await drop();
      throw err;
    }
  }
  return { name, url: url.toString(), drop };
}

/**
 * Writes `bench/results/<file>` (pretty JSON; `BENCH_RESULTS_DIR` names another directory, as the
 * CI smoke runs do) and prints it on stdout.
 */
export function writeResult(file: string, report: unknown): void {
  const text = JSON.stringify(
    report && typeof report === 'object' && !Array.isArray(report) ? { ...report, ec: EC_MODE } : report,
    null,
    2,
  );
  process.stdout.write(`${text}\n`);
  const dir = process.env.BENCH_RESULTS_DIR
    ? pathToFileURL(`${process.env.BENCH_RESULTS_DIR.replace(/\/+$/, '')}/`)
    : new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(file, dir), `${text}\n`);
}

export const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * How the bench runs `ec`: from the checkout through tsx (`bin/ec.js`, as `npm run demo` does), or, with
 * `BENCH_EC=dist`, the compiled `dist/` that the Docker image runs (bench/index.ts builds it first).
 * Each result file says which (`ec`).
 */
export const EC_MODE: 'tsx' | 'dist' = process.env.BENCH_EC === 'dist' ? 'dist' : 'tsx';

export const EC_BIN = fileURLToPath(
  new URL(EC_MODE === 'dist' ? '../dist/bin/ec.js' : '../bin/ec.js', import.meta.url),
);

/** A child process of the bench, with the tail of its output kept for error messages. */
export type Child = {
  name: string;
  proc: ChildProcess;
  /** The last lines it wrote (stdout and stderr). */
  tail: () => string;
  /** Resolves with the first stdout line matching `re` (rejects when the child exits first). */
  waitForLine: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** User + system CPU seconds so far (Linux /proc), or null. */
  cpuSeconds: () => number | null;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop: (graceMs?: number) => Promise<void>;
};

const children = new Set<Child>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) {
    return;
  }
  exitHooked = true;
  // Whatever happens to the bench, no child outlives it.
  process.on('exit', () => {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the bench's child processes\n`);
      void stopAllChildren().finally(() => process.exit(130));
    });
  }
}

const CLK_TCK = 100;

function procCpuSeconds(pid: number | undefined): number | null {
  if (!pid) {
    return null;
  }
  // After the command name, state is field 3 of the file, utime 14, stime 15.
  const fields = procStat(pid)?.fields;
  return fields ? (Number(fields[11]) + Number(fields[12])) / CLK_TCK : null;
}

/** The fields of `/proc/<pid>/stat` after the command name (which may contain spaces), and the name. */
function procStat(pid: number | string): { comm: string; fields: string[] } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      fields: stat.slice(stat.lastIndexOf(')') + 2).split(' '),
    };
  } catch {
    return null;
  }
}

/** A snapshot of the whole machine's CPU, to read what bound a run (`machineCpuSince`). */
export type MachineCpu = { at: number; busyTicks: number; totalTicks: number; postgresTicks: number };

/**
 * The machine's CPU now (Linux /proc, else null): all cores' busy and total ticks, and every
 * `postgres` process's CPU — its own and its reaped children's, so backends that exited count too.
 */
export function machineCpu(): MachineCpu | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]
      ?.trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    if (!cpu || cpu.length < 5) {
      return null;
    }
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const total = cpu.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    let postgresTicks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) {
        continue;
      }
      const stat = procStat(pid);
      if (stat?.comm === 'postgres') {
        // utime, stime, cutime, cstime: fields 14–17 of the file.
        postgresTicks += stat.fields.slice(11, 15).reduce((a, b) => a + Number(b), 0);
      }
    }
    return { at: Date.now(), busyTicks: total - idle, totalTicks: total, postgresTicks };
  } catch {
    return null;
  }
}

/**
 * What the machine did between `before` and now: the share of all cores busy (any process, this
 * bench's or not) and Postgres's CPU seconds. A busy share near 1 says the run was CPU-bound.
 */
export function machineCpuSince(before: MachineCpu | null): Record<string, number> | null {
  const now = machineCpu();
  if (!before || !now || now.totalTicks <= before.totalTicks) {
    return null;
  }
  return {
    cores: availableParallelism(),
    seconds: Math.round((now.at - before.at) / 100) / 10,
    busy_share:
      Math.round(((now.busyTicks - before.busyTicks) / (now.totalTicks - before.totalTicks)) * 100) / 100,
    postgres_cpu_seconds: Math.round(((now.postgresTicks - before.postgresTicks) / CLK_TCK) * 10) / 10,
  };
}

/** Tracks a spawned process as a bench child (killed when the bench exits). */
export function track(name: string, proc: ChildProcess): Child {
  hookExit();
  const lines: string[] = [];
  const stdoutLines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const keep = (stream: NodeJS.ReadableStream | null, isStdout: boolean) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 40) {
          lines.shift();
        }
        if (isStdout) {
          if (stdoutLines.length < 500) {
            stdoutLines.push(line);
          }
          for (const w of [...waiters]) {
            const m = line.match(w.re);
            if (m) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(m);
            }
          }
        }
      }
    });
  };
  keep(proc.stdout, true);
  keep(proc.stderr, false);
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      resolve();
    } else {
      proc.once('exit', () => resolve());
    }
  });
  const child: Child = {
    name,
    proc,
    tail: () => lines.join('\n'),
    waitForLine: (re, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        for (const line of stdoutLines) {
          const m = line.match(re);
          if (m) {
            resolve(m);
            return;
          }
        }
        const timer = setTimeout(
          () => reject(new Error(`${name}: no line ${re} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const w = {
          re,
          resolve: (m: RegExpMatchArray) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        waiters.push(w);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}):\n${child.tail()}`));
        });
      }),
    cpuSeconds: () => procCpuSeconds(proc.pid),
    stop: async (graceMs = 10_000) => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
  children.add(child);
  return child;
}

/**
 * `BENCH_CPU_PROF=<dir>`: every `ec` child writes a V8 CPU profile there when it exits (open it in
 * Chrome DevTools or speedscope) — how a missed target is investigated.
 */
const profileArgs = () =>
  process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];

/** Spawns `ec <args>` (bin/ec.js, as users run it) with exactly `env` (plus PATH/HOME/NO_PROXY). */
export function spawnEc(name: string, args: string[], env: Record<string, string>, opts: SpawnOptions = {}) {
  const proc = spawn(process.execPath, [...profileArgs(), EC_BIN, ...args], {
    ...opts,
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(name, proc);
}

/** Forks a TypeScript module (through tsx) as a child with an IPC channel. */
export function forkTs(name: string, file: string, env: Record<string, string>, opts: ForkOptions = {}) {
  const proc = fork(file, [], {
    ...opts,
    execArgv: ['--import', 'tsx'],
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return track(name, proc);
}

function baseEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...env,
  };
}

/** Runs `ec <args>` to completion and returns its stdout (throws with its output on a non-zero exit). */
export async function runEc(args: string[], env: Record<string, string>): Promise<string> {
  const child = spawnEc(`ec ${args[0] ?? ''}`, args, env);
  let out = '';
  child.proc.stdout?.on('data', (c: string) => {
    out += c;
  });
  const code = await new Promise<number | null>((resolve) => child.proc.once('exit', resolve));
  children.delete(child);
  if (code !== 0) {
    throw new Error(`ec ${args.join(' ')} exited ${code}:\n${child.tail()}`);
  }
  return out;
}

/** Stops every child still running (SIGTERM, then SIGKILL after the grace period), in parallel. */
export async function stopAllChildren(graceMs = 10_000): Promise<void> {
  await Promise.all([...children].map((c) => c.stop(graceMs)));
}
