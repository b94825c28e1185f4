import { pino } from 'pino';
import { type Config, ConfigError, type ConfigMode, loadConfig } from '../config.js';
import type { Deps } from '../deps.js';
import { AppError, ValidationError } from '../errors.js';
import { createShutdown, type Shutdown } from '../lib/shutdown.js';
import { createLogger, type Logger } from '../logger.js';
import type { Runtime } from '../runtime.js';

/**
 * Shared plumbing of the CLI commands: config from the environment (the only place besides src/bin
 * that reads process.env), a logger on stderr (stdout stays clean for --json), deps, and one way of
 * reporting failures.
 */
export function cliConfig(mode: ConfigMode = 'production'): Config {
  return loadConfig(process.env, mode);
}

export function cliLogger(config: Pick<Config, 'logLevel'>): Logger {
  return createLogger({ level: config.logLevel, destination: pino.destination(2) });
}

/** Runs `fn` with deps built from the environment and closes them afterwards. */
export async function withDeps<T>(
  fn: (deps: Deps) => Promise<T>,
  mode: ConfigMode = 'production',
): Promise<T> {
  const config = cliConfig(mode);
  // Loaded when a command runs, not when the CLI starts: `ec --help` and a refused argument stay fast.
  const { createDeps } = await import('../deps.js');
  const deps = createDeps(config, cliLogger(config), { dbPoolSize: 2, applicationName: 'ec-cli' });
  try {
    return await fn(deps);
  } finally {
    await deps.close();
  }
}

/**
 * The start of every long-running process (api, worker, scheduler): config, a JSON logger on stdout,
 * and a shutdown that logs what failed to close.
 */
export function startProcess(): { config: Config; logger: Logger; shutdown: Shutdown } {
  const config = cliConfig();
  const logger = createLogger({ level: config.logLevel });
  const shutdown = createShutdown((name, err) => logger.error({ name, err }, 'error while closing'));
  return { config, logger, shutdown };
}

/** Runs `fn` with a runtime (db + queues + providers) built from the environment, closed afterwards. */
export async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const config = cliConfig();
  const { createRuntime } = await import('../runtime.js');
  const runtime = createRuntime(config, cliLogger(config), { dbPoolSize: 3, applicationName: 'ec-cli' });
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

export function writeOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function writeErr(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

type NetError = Error & { code?: string; address?: string; port?: number; errors?: NetError[] };

function connectionHint(err: unknown): string | undefined {
  const e = err as NetError;
  const inner = e?.errors?.[0] ?? e;
  if (inner?.code !== 'ECONNREFUSED' && inner?.code !== 'ENOTFOUND' && inner?.code !== 'EAI_AGAIN') {
    return undefined;
  }
  const where = inner.address ? `${inner.address}:${inner.port ?? ''}` : 'its address';
  const portOf = (url: string | undefined, fallback: number) => {
    try {
      return Number(new URL(url ?? '').port || fallback);
    } catch {
      return fallback;
    }
  };
  const what =
    inner.port === portOf(process.env.REDIS_URL, 6379)
      ? 'Redis'
      : inner.port === portOf(process.env.DATABASE_URL, 5432)
        ? 'Postgres'
        : 'a required service';
  return (
    `Cannot reach ${what} at ${where} (${inner.code}). Check DATABASE_URL / REDIS_URL, ` +
    'or start the services: `docker compose up -d postgres redis`.'
  );
}

/** Prints a failure the way a person can act on it, then exits non-zero (2 for bad input). */
export function reportAndExit(err: unknown): never {
  if (err instanceof ConfigError) {
    writeErr(err.message);
    process.exit(1);
  }
  if (err instanceof ValidationError) {
    writeErr(`error: ${err.message}`);
    for (const [field, problems] of Object.entries(err.fields)) {
      for (const p of problems) {
        writeErr(`  ${field}: ${typeof p === 'string' ? p : p.description}`);
      }
    }
    process.exit(2);
  }
  const hint = connectionHint(err);
  if (hint) {
    writeErr(`error: ${hint}`);
    process.exit(1);
  }
  // drizzle wraps driver errors (DrizzleQueryError) with the PostgresError as `cause`.
  const wrapped = err as { cause?: unknown };
  const pg = ((err as { name?: string }).name === 'PostgresError' ? err : wrapped?.cause) as
    | { name?: string; code?: string; message?: string }
    | undefined;
  if (pg?.name === 'PostgresError') {
    const hint =
      pg.code === '3D000'
        ? ' Create the database (`createdb NAME`) or point DATABASE_URL at an existing one.'
        : pg.code === '42P01'
          ? ' The schema is missing: run `ec migrate` first.'
          : '';
    writeErr(`error: Postgres: ${pg.message ?? 'unknown error'} (${pg.code ?? '?'}).${hint}`);
    process.exit(1);
  }
  if (err instanceof AppError) {
    writeErr(`error: ${err.message} (${err.code})`);
    process.exit(1);
  }
  writeErr(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
}
