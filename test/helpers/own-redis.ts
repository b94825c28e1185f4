import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from '../../src/lib/net.js';

export { freePort };

/**
 * A Redis server of the test's own (Debian's redis-server, no persistence), for tests that stop,
 * kill or restart Redis: never the shared one other test files use. `stop()` kills it (what a
 * crashed container does); `start()` brings it back, empty, on the same port.
 */
export type OwnRedis = {
  readonly port: number;
  readonly url: string;
  start: () => Promise<void>;
  stop: () => Promise<void>;
  readonly running: boolean;
};

export async function ownRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const ping = async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    probe.on('error', () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  };
  const self: OwnRedis = {
    port,
    url,
    get running() {
      return child !== undefined;
    },
    start: async () => {
      if (child) {
        return;
      }
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--loglevel',
          'warning',
        ],
        { stdio: 'ignore' },
      );
      for (let i = 0; i < 100; i++) {
        if (await ping()) {
          return;
        }
        await sleep(50);
      }
      throw new Error(`redis-server on port ${port} did not start`);
    },
    stop: async () => {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) {
        return;
      }
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
  return self;
}
