import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/**
 * A real Redis Cluster on loopback, from Debian's redis-server and redis-cli: `masters` masters with
 * one replica each (`--cluster-replicas 1`), in a temporary directory, on free ports (each node's
 * bus port is its port + 10000). For `npm run test:cluster` and the failover test.
 */
export type LocalCluster = {
  /** `127.0.0.1:port,…` of every node (REDIS_CLUSTER_NODES). */
  nodes: string;
  ports: number[];
  stop: () => Promise<void>;
};

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive ports whose bus ports (+10000) are free too. */
async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20_000 + Math.floor(Math.random() * 25_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const all = await Promise.all(ports.flatMap((p) => [portFree(p), portFree(p + 10_000)]));
    if (all.every(Boolean)) {
      return ports;
    }
  }
  throw new Error('no free ports for a local Redis Cluster');
}

async function clusterInfo(port: number): Promise<string> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    return String(await client.call('CLUSTER', 'INFO'));
  } finally {
    client.disconnect();
  }
}

export async function startLocalCluster(
  opts: { masters?: number; timeoutMs?: number } = {},
): Promise<LocalCluster> {
  const count = (opts.masters ?? 3) * 2;
  const dir = await mkdtemp(join(tmpdir(), 'ec-redis-cluster-'));
  const ports = await freePorts(count);
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '3000',
        '--dir',
        dir,
        '--dbfilename',
        `dump-${port}.rdb`,
        '--save',
        '',
        '--appendonly',
        'no',
        '--logfile',
        join(dir, `redis-${port}.log`),
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
    }
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((resolve) => c.once('exit', () => resolve())),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    // Every node answers before the cluster is created.
    for (const port of ports) {
      for (;;) {
        const ok = await clusterInfo(port).then(
          () => true,
          () => false,
        );
        if (ok) {
          break;
        }
        if (Date.now() > deadline) {
          throw new Error(`redis-server on ${port} did not start (is redis-server installed?)`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      for (;;) {
        const info = await clusterInfo(port).catch(() => '');
        if (info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${count}`)) {
          break;
        }
        if (Date.now() > deadline) {
          throw new Error(`Redis Cluster node ${port} not ok: ${info}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes: ports.map((p) => `127.0.0.1:${p}`).join(','), ports, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

type NodeLine = { id: string; port: number; role: 'master' | 'slave'; masterId: string; slots: string[] };

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', address = '', flags = '', masterId = '', , , , , ...slots] = line.split(' ');
      const port = Number(address.split('@')[0]?.split(':')[1]);
      return { id, port, role: flags.includes('master') ? 'master' : 'slave', masterId, slots } as NodeLine;
    });
}

function slotIn(slot: number, ranges: string[]): boolean {
  return ranges.some((r) => {
    const [lo, hi = lo] = r.split('-').map(Number);
    return lo !== undefined && hi !== undefined && slot >= lo && slot <= hi;
  });
}

/**
 * Fails over the master serving `key`'s slot: `CLUSTER FAILOVER` on one of its replicas (a manual,
 * coordinated failover: the replica catches up, then takes the slots). Resolves once that replica
 * reports itself master; returns the two ports.
 */
export async function failOverMasterOf(
  ports: number[],
  key: string,
  timeoutMs = 20_000,
): Promise<{ oldMaster: number; newMaster: number }> {
  const port = ports[0] as number;
  const probe = new Redis({ host: '127.0.0.1', port });
  try {
    const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', key));
    const nodes = parseNodes(String(await probe.call('CLUSTER', 'NODES')));
    const master = nodes.find((n) => n.role === 'master' && slotIn(slot, n.slots));
    const replica = nodes.find((n) => n.role === 'slave' && n.masterId === master?.id);
    if (!master || !replica) {
      throw new Error(`no master with a replica for slot ${slot}`);
    }
    const onReplica = new Redis({ host: '127.0.0.1', port: replica.port });
    try {
      await onReplica.call('CLUSTER', 'FAILOVER');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const role = (await onReplica.call('ROLE')) as [string, ...unknown[]];
        if (role[0] === 'master') {
          break;
        }
        if (Date.now() > deadline) {
          throw new Error(`replica ${replica.port} did not take over within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      onReplica.disconnect();
    }
    return { oldMaster: master.port, newMaster: replica.port };
  } finally {
    probe.disconnect();
  }
}
