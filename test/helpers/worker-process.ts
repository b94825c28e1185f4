import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestApp } from './app.js';
import { TEST_ENCRYPTION_KEYS } from './config.js';

const EC = fileURLToPath(new URL('../../bin/ec.js', import.meta.url));

/** The environment an `ec` child process needs to join a test app's deployment. */
export function childEnv(t: TestApp, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NO_PROXY: '127.0.0.1,localhost',
    DATABASE_URL: t.config.databaseUrl,
    REDIS_URL: t.config.redis.url,
    ...(t.config.redis.cluster
      ? { REDIS_CLUSTER_NODES: t.config.redis.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') }
      : {}),
    QUEUE_PREFIX: t.config.redis.queuePrefix,
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    GOOGLE_TOKEN_URL: `${t.sandbox.url}/token`,
    GOOGLE_API_URL: t.sandbox.url,
    MICROSOFT_LOGIN_URL: t.sandbox.url,
    MICROSOFT_GRAPH_URL: t.sandbox.url,
    OUTBOUND_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Starts `ec worker` as a separate process (so it can be SIGKILLed like a crashed container). */
export function spawnWorker(t: TestApp, extra: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [EC, 'worker'], {
    env: childEnv(t, extra),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', () => {});
  return child;
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    child.once('exit', (code) => resolve(code));
  });
}
