import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { buildServer, type Server, type ServerOptions } from '../../src/api/server.js';
import type { Config } from '../../src/config.js';
import { drainWorkers } from '../../src/jobs/drain.js';
import { startWorkers, type WorkerSet } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/logger.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';
import { createApplication } from '../../src/services/applications.js';
import { testConfig } from './config.js';
import { useTestDatabase } from './db.js';
import { useRedisPrefix } from './redis.js';

export type TestApp = {
  readonly url: string;
  readonly config: Config;
  readonly runtime: Runtime;
  readonly server: Server;
  readonly sandbox: Sandbox;
  /** Every log line written, for checks that nothing secret is logged. */
  readonly logs: string[];
  createApplication: (
    redirectUris?: string[],
  ) => Promise<{ clientId: string; clientSecret: string; applicationId: string }>;
};

export type TestAppOptions = {
  sandbox?: SandboxOptions;
  /** Start the queue workers in-process (default true). */
  workers?: boolean;
  env?: Record<string, string>;
  /** The URL the service uses for the file's database, e.g. through a pooler (default: direct). */
  databaseUrl?: (directUrl: string) => string;
  /** Bound queue adds as `ec api` does (see RuntimeOptions.enqueueTimeoutMs); default: unbounded. */
  enqueueTimeoutMs?: number;
  /** The API's rate limits (default: 1,000,000 per second and per minute, so tests never meet them). */
  rateLimit?: ServerOptions['rateLimit'];
};

/**
 * The whole service for one test file: its own database and Redis prefix, a sandbox provider, the
 * API listening on a random port, and (by default) the workers — all real, in this process.
 */
export function useTestApp(opts: TestAppOptions = {}): TestApp {
  const db = useTestDatabase();
  const prefix = useRedisPrefix();
  const logs: string[] = [];
  let sandbox: Sandbox | undefined;
  let runtime: Runtime | undefined;
  let server: Server | undefined;
  let workers: WorkerSet | undefined;
  let config: Config | undefined;
  let url = '';

  beforeAll(async () => {
    sandbox = await startSandbox({ quotas: false, ...opts.sandbox });
    config = testConfig({
      databaseUrl: opts.databaseUrl ? opts.databaseUrl(db.url) : db.url,
      queuePrefix: prefix,
      env: {
        GOOGLE_TOKEN_URL: `${sandbox.url}/token`,
        GOOGLE_API_URL: sandbox.url,
        MICROSOFT_LOGIN_URL: sandbox.url,
        MICROSOFT_GRAPH_URL: sandbox.url,
        LOG_LEVEL: 'info',
        ...opts.env,
      },
    });
    const destination = new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    runtime = createRuntime(config, logger, {
      dbPoolSize: 10,
      ...(opts.enqueueTimeoutMs === undefined ? {} : { enqueueTimeoutMs: opts.enqueueTimeoutMs }),
    });
    server = await buildServer(runtime.app, {
      rateLimit: opts.rateLimit ?? { perSecond: 1_000_000, perMinute: 1_000_000 },
    });
    await server.listen({ host: '127.0.0.1', port: 0 });
    const address = server.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    if (opts.workers ?? true) {
      workers = startWorkers(runtime.app, runtime.deps.redis());
    }
  });

  afterAll(async () => {
    // Each step says so on stderr when it is slow, so a teardown that outlasts the hook names its step.
    const step = async (what: string, work: () => Promise<unknown>) => {
      const started = Date.now();
      const slow = setTimeout(() => {
        process.stderr.write(`useTestApp teardown: ${what} still closing after ${Date.now() - started} ms\n`);
      }, 10_000);
      try {
        await work();
      } finally {
        clearTimeout(slow);
      }
    };
    if (workers && runtime) {
      // As `ec worker` stops: active jobs get a bounded time, none at all while Redis is away.
      const [set, redis] = [workers, runtime.deps.redis()];
      await step('workers', async () => {
        const drained = await drainWorkers(set, redis, { maxMs: 20_000 });
        if (drained.forced) {
          process.stderr.write(`useTestApp teardown: workers closed by force (${drained.reason})\n`);
        }
      });
    }
    if (server) {
      // Teardown, not a graceful stop: connections a test left open (a body it did not read, a
      // keep-alive socket) are cut rather than waited for.
      const open = server;
      await step('server', () => {
        const closing = open.close();
        open.server.closeAllConnections();
        return closing;
      });
    }
    await step('runtime', async () => runtime?.close());
    await step('sandbox', async () => sandbox?.close());
  });

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) {
      throw new Error(`useTestApp(): ${what} exists only inside tests and hooks`);
    }
    return value;
  };
  return {
    get url() {
      return url;
    },
    get config() {
      return need(config, 'config');
    },
    get runtime() {
      return need(runtime, 'runtime');
    },
    get server() {
      return need(server, 'server');
    },
    get sandbox() {
      return need(sandbox, 'sandbox');
    },
    logs,
    createApplication: async (redirectUris = []) => {
      const rt = need(runtime, 'runtime');
      const created = await createApplication(rt.app, { name: 'Test app', redirectUris, actor: 'test' });
      return {
        clientId: created.clientId,
        clientSecret: created.clientSecret,
        applicationId: created.application.id,
      };
    },
  };
}
