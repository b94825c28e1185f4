import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fastify } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { healthRoutes } from '../../src/api/routes/health.js';
import { startHealthServer } from '../../src/cli/health-server.js';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { AppContext } from '../../src/services/context.js';
import { type K8sObject, podOwners, render, validateObjects } from './kubernetes.js';

const ROOT = 'deploy/kubernetes';
const OVERLAYS = ['overlays/production', 'overlays/redis-cluster'];
const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) {
    await rm(dir, { recursive: true, force: true });
  }
});

type Container = {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
};

const containersOf = (objects: K8sObject[]) =>
  podOwners(objects).flatMap((o) =>
    (o.spec.template.spec.containers as Container[]).map((c) => ({ owner: o, container: c })),
  );

describe.each(OVERLAYS)('deploy/kubernetes/%s', (overlay) => {
  const objects = render(join(ROOT, overlay));
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ec-config') as
    | (K8sObject & { data: Record<string, string> })
    | undefined;

  it('renders and validates against the Kubernetes API schemas and KEDA’s ScaledObject', async () => {
    expect(await validateObjects(objects)).toEqual([]);
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      [
        'ConfigMap/ec-config',
        'Deployment/ec-api',
        'Deployment/ec-scheduler',
        'Deployment/ec-worker',
        'HorizontalPodAutoscaler/ec-api',
        'Job/ec-migrate',
        'PodDisruptionBudget/ec-api',
        'PodDisruptionBudget/ec-scheduler',
        'PodDisruptionBudget/ec-worker',
        'ScaledObject/ec-worker',
        'Service/ec-api',
      ].sort(),
    );
  });

  it('sets only environment variables that src/config.ts reads', async () => {
    const set = new Set<string>(Object.keys(configMap?.data ?? {}));
    for (const { container } of containersOf(objects)) {
      for (const e of container.env ?? []) {
        set.add(e.name);
      }
    }
    const secretKeys = (await readFile(join(ROOT, 'ec-secrets.example.env'), 'utf8'))
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split('=')[0] as string);
    expect(secretKeys).toEqual([
      'DATABASE_URL',
      'MIGRATE_DATABASE_URL',
      'REDIS_URL',
      'ENCRYPTION_KEYS',
      'ADMIN_TOKEN',
      'METRICS_TOKEN',
    ]);
    for (const key of secretKeys) {
      set.add(key);
    }
    const unknown = [...set].filter((name) => !CONFIG_VARIABLES.includes(name));
    expect(unknown).toEqual([]);
    expect(set.size).toBeGreaterThan(6);
  });

  it('probes every process on a path it serves, on the port it listens on', async () => {
    const api = fastify();
    api.setValidatorCompiler(validatorCompiler);
    api.setSerializerCompiler(serializerCompiler);
    await api.register(healthRoutes({} as AppContext));
    await api.ready();
    const health = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      readiness: async () => ({ postgres: 'ok', redis: 'ok' }),
      registry: new Registry(),
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const probed = containersOf(objects).filter(({ owner }) => owner.kind === 'Deployment');
      expect(probed.map((p) => p.container.name).sort()).toEqual(['api', 'scheduler', 'worker']);
      for (const { container } of probed) {
        for (const probe of [container.readinessProbe, container.livenessProbe]) {
          const get = probe?.httpGet;
          expect(get, `${container.name} has an HTTP probe`).toBeDefined();
          const port = container.ports?.find((p) => p.name === get?.port || p.containerPort === get?.port);
          expect(port, `${container.name} probe port ${String(get?.port)}`).toBeDefined();
          if (container.name === 'api') {
            expect(String(port?.containerPort)).toBe(container.env?.find((e) => e.name === 'PORT')?.value);
            expect(api.hasRoute({ method: 'GET', url: get?.path as string })).toBe(true);
          } else {
            expect(container.args).toEqual([container.name]);
            expect(String(port?.containerPort)).toBe(configMap?.data.WORKER_HEALTH_PORT);
            const res = await fetch(`http://127.0.0.1:${health.port}${get?.path}`);
            expect(res.status, `${container.name} ${get?.path}`).toBe(200);
          }
        }
      }
    } finally {
      await health.close();
      await api.close();
    }
  });

  it('migrates over a direct Postgres URL (MIGRATE_DATABASE_URL, bypassing PgBouncer)', () => {
    const secretEnv = (c: Container, name: string) =>
      c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    const all = containersOf(objects);
    const migrate = all.filter(({ owner }) => owner.kind === 'Job');
    expect(migrate.map(({ container }) => container.args)).toEqual([['migrate']]);
    for (const { container } of migrate) {
      expect(secretEnv(container, 'MIGRATE_DATABASE_URL')).toEqual({
        name: 'ec-secrets',
        key: 'MIGRATE_DATABASE_URL',
      });
    }
    // The long-running processes never read it (only `ec migrate` does).
    expect(CONFIG_VARIABLES).toContain('MIGRATE_DATABASE_URL');
  });

  it('gives workers time to finish their jobs, longer than a job lock', () => {
    const worker = podOwners(objects).find((o) => o.metadata.name === 'ec-worker');
    const lock = Number(configMap?.data.WORKER_LOCK_SECONDS ?? 30);
    expect(worker?.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(lock);
    expect(configMap?.data.QUEUE_PREFIX).toMatch(/\{[^}]+\}/);
  });
});

describe('the manifest validator', () => {
  async function brokenCopy(edit: (dir: string) => Promise<void>): Promise<string[]> {
    const dir = await mkdtemp(join(tmpdir(), 'ec-k8s-'));
    temps.push(dir);
    await cp(ROOT, dir, { recursive: true });
    await edit(dir);
    return validateObjects(render(join(dir, 'overlays/production')));
  }
  const replace = async (file: string, from: string, to: string) => {
    const text = await readFile(file, 'utf8');
    expect(text).toContain(from);
    await writeFile(file, text.replace(from, to));
  };

  it('fails on a Deployment whose replicas is not a number', async () => {
    const problems = await brokenCopy((d) =>
      replace(join(d, 'base/worker.yaml'), 'replicas: 2', 'replicas: two'),
    );
    expect(problems.join('\n')).toMatch(/Deployment\/ec-worker: .*replicas must be integer/);
  });

  it('fails on a ScaledObject without triggers', async () => {
    const problems = await brokenCopy((d) =>
      replace(join(d, 'base/worker.yaml'), '  triggers:', '  triggerz:'),
    );
    expect(problems.join('\n')).toMatch(/ScaledObject\/ec-worker: .*must have required property triggers/);
  });

  it('fails on a mistyped container field and a port that is not a number', async () => {
    const problems = await brokenCopy(async (d) => {
      await replace(join(d, 'base/api.yaml'), 'livenessProbe:', 'livenesProbe:');
      await replace(join(d, 'base/scheduler.yaml'), 'containerPort: 9464', 'containerPort: health');
    });
    const text = problems.join('\n');
    expect(text).toMatch(/ec-api: container field "livenesProbe" does not exist/);
    expect(text).toMatch(/Deployment\/ec-scheduler: .*containerPort must be integer/);
  });
});
