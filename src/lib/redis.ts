import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { withDeadline } from './deadline.js';

/**
 * The one place that constructs Redis clients: a standalone server (`REDIS_URL`) or a Redis Cluster
 * (`REDIS_CLUSTER_NODES`, or a `redis+cluster://host:port,host:port` URL). BullMQ, the provider quota
 * limiter, the API rate limiter and metrics sharing all take a `RedisClient`, so each works on both.
 *
 * In a cluster, commands that touch several keys (BullMQ's Lua scripts, the limiter's) must find all
 * of them in one hash slot: every key this service writes starts with QUEUE_PREFIX, and with a cluster
 * configured the prefix is hash-tagged (`ec` → `{ec}`, see `hashTaggedPrefix`), so one deployment's
 * keys live in one slot, on one master (and its replicas).
 */
export type RedisClient = Redis | Cluster;

export type RedisNode = { host: string; port: number };

export type RedisClusterTarget = {
  /** Seed nodes: any reachable master or replica; ioredis discovers the rest (CLUSTER SLOTS). */
  nodes: RedisNode[];
  /** AUTH of every node, from the `redis+cluster://user:pass@…` URL. */
  username: string | undefined;
  password: string | undefined;
  /** `rediss+cluster://`: TLS to every node. */
  tls: boolean;
};

/** Where Redis is: `cluster` when a cluster is configured, else the standalone server at `url`. */
export type RedisTarget = { url: string; cluster: RedisClusterTarget | null };

const NODE = /^\[?([A-Za-z0-9.:-]+?)\]?:(\d{1,5})$/;

/** Parses `host:port,host:port` (IPv6 as `[::1]:7000`); returns the problem as a string when bad. */
export function parseRedisNodes(raw: string): RedisNode[] | string {
  const nodes: RedisNode[] = [];
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = NODE.exec(part);
    const port = Number(m?.[2]);
    if (!m?.[1] || port < 1 || port > 65_535) {
      return `"${part}" is not host:port`;
    }
    nodes.push({ host: m[1], port });
  }
  return nodes.length > 0 ? nodes : 'must list at least one host:port';
}

/** `redis+cluster://[user:pass@]host:port,host:port` (or `rediss+cluster://`) → its nodes and AUTH. */
export function parseClusterUrl(url: string): RedisClusterTarget | string | null {
  const m = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!m) {
    return null;
  }
  const nodes = parseRedisNodes(m[3] ?? '');
  if (typeof nodes === 'string') {
    return nodes;
  }
  const [user = '', pass] = (m[2] ?? '').split(':');
  return {
    nodes,
    username: user ? decodeURIComponent(user) : undefined,
    password: pass === undefined ? undefined : decodeURIComponent(pass),
    tls: m[1] === 'rediss',
  };
}

/**
 * The cluster of REDIS_CLUSTER_NODES; its AUTH and TLS come from REDIS_URL when that names them
 * (`rediss://:secret@any-host`), so the password stays in one variable.
 */
export function clusterOfNodes(nodes: RedisNode[], url: string): RedisClusterTarget {
  let username: string | undefined;
  let password: string | undefined;
  try {
    const parsed = new URL(url.replace(/^(rediss?)\+cluster:/, '$1:').replace(/,.*$/, ''));
    username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
    password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  } catch {
    // An unparsable REDIS_URL carries no credentials; the nodes are what counts.
  }
  return { nodes, username, password, tls: url.startsWith('rediss') };
}

/**
 * A prefix whose keys all hash to one cluster slot: kept as it is when it already holds a non-empty
 * `{…}` hash tag, else wrapped whole (`ec` → `{ec}`, `ect-1a2b` → `{ect-1a2b}`).
 */
export function hashTaggedPrefix(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? prefix : `{${prefix}}`;
}

/** Options of `createRedisClient`: ioredis options, applied to every node of a cluster. */
export type RedisClientOptions = Pick<
  RedisOptions,
  | 'maxRetriesPerRequest'
  | 'lazyConnect'
  | 'enableReadyCheck'
  | 'enableOfflineQueue'
  | 'enableAutoPipelining'
  | 'connectTimeout'
  | 'commandTimeout'
  | 'retryStrategy'
>;

export function createRedisClient(target: RedisTarget, opts: RedisClientOptions = {}): RedisClient {
  const { cluster } = target;
  if (!cluster) {
    return new Redis(target.url, opts);
  }
  const {
    lazyConnect,
    enableReadyCheck,
    enableOfflineQueue,
    enableAutoPipelining,
    retryStrategy,
    ...perNode
  } = opts;
  const redisOptions = {
    ...perNode,
    ...(cluster.username === undefined ? {} : { username: cluster.username }),
    ...(cluster.password === undefined ? {} : { password: cluster.password }),
    ...(cluster.tls ? { tls: {} } : {}),
  };
  return new Cluster(cluster.nodes, {
    redisOptions,
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableReadyCheck === undefined ? {} : { enableReadyCheck }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    // A stopping process (`retryStrategy: () => null`) gives up on the whole cluster the same way.
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
  });
}

/** The masters of a cluster, or the one server: where a SCAN over this deployment's keys must run. */
export function scanTargets(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Client states in which a command would wait in the offline queue for a reconnection. */
const DISCONNECTED = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

/**
 * A Redis read bounded in time: refused at once while the client has lost its connection (no
 * command is left in its offline queue), and given up after `timeoutMs` otherwise (the connection
 * may not know yet; a lazy client's first command connects it).
 */
export function redisReader(redis: RedisClient, timeoutMs: number) {
  return <T>(read: () => Promise<T>): Promise<T> => {
    if (DISCONNECTED.has(redis.status)) {
      return Promise.reject(new Error(`redis is ${redis.status}`));
    }
    return withDeadline(read(), timeoutMs, () => new Error(`redis did not answer within ${timeoutMs} ms`));
  };
}
