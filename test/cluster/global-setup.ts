import type { TestProject } from 'vitest/node';
import { startLocalCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisClusterPorts: number[];
  }
}

/**
 * `npm run test:cluster`: starts a local Redis Cluster (3 masters + 3 replicas) before the test
 * files load and stops it after. REDIS_CLUSTER_NODES, set here before the test workers start, makes
 * test/helpers point every client (the tests' and the service's) at the cluster.
 */
export async function setup(project: TestProject) {
  const cluster = await startLocalCluster({ masters: 3 });
  process.env.REDIS_CLUSTER_NODES = cluster.nodes;
  project.provide('redisClusterPorts', cluster.ports);
  return async () => {
    await cluster.stop();
  };
}
