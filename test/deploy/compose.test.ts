import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config.js';

/**
 * docker-compose.yml, checked with Debian's `docker-compose config` (no Docker engine needed), and the
 * Dockerfile, .env.example and LICENSE checked for what can be checked without building.
 */
type Service = {
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  volumes?: ({ source: string; type: string } | string)[];
};
type Compose = { version?: string; services: Record<string, Service> };

const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) {
    await rm(dir, { recursive: true, force: true });
  }
});

/** `docker-compose config` with only PATH in the environment (no ENCRYPTION_KEYS, no ADMIN_TOKEN). */
function composeConfig(file: string, args: string[] = []): { code: number | null; out: string; err: string } {
  const r = spawnSync('docker-compose', ['-f', file, ...args, 'config'], {
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
  });
  if (r.error) {
    throw new Error(`docker-compose is not installed (apt-get install docker-compose): ${r.error.message}`);
  }
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('docker-compose.yml', () => {
  const plain = composeConfig('docker-compose.yml');
  const monitoring = composeConfig('docker-compose.yml', ['--profile', 'monitoring']);

  it('renders with docker-compose config when ENCRYPTION_KEYS and ADMIN_TOKEN are unset', () => {
    expect(plain.err).not.toMatch(/ERROR|required/i);
    expect(plain.code).toBe(0);
    // The services started without a profile (docker-compose 1.x lists profiled ones too).
    const services = Object.entries((parse(plain.out) as Compose).services)
      .filter(([, s]) => !s.profiles?.length)
      .map(([name]) => name)
      .sort();
    expect(services).toEqual(['api', 'migrate', 'postgres', 'redis', 'scheduler', 'worker']);
    const raw = parse(execFileSync('cat', ['docker-compose.yml'], { encoding: 'utf8' })) as Compose;
    expect(raw.version).toBeUndefined();
  });

  it('checks readiness on /readyz for the API, and on WORKER_HEALTH_PORT for workers and the scheduler', () => {
    const { services } = parse(plain.out) as Compose;
    expect(services.api?.healthcheck?.test.join(' ')).toContain('127.0.0.1:8080/readyz');
    for (const name of ['worker', 'scheduler']) {
      const service = services[name];
      const port = service?.environment?.WORKER_HEALTH_PORT;
      expect(port, name).toBe('9464');
      expect(service?.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${port}/readyz`);
    }
  });

  it('sets only variables src/config.ts reads', () => {
    const { services } = parse(plain.out) as Compose;
    for (const name of ['api', 'worker', 'scheduler', 'migrate']) {
      const unknown = Object.keys(services[name]?.environment ?? {}).filter(
        (v) => !CONFIG_VARIABLES.includes(v),
      );
      expect(unknown, name).toEqual([]);
    }
  });

  it('adds Prometheus and Grafana under the monitoring profile, with the dashboard provisioned', () => {
    expect(monitoring.code).toBe(0);
    const { services } = parse(monitoring.out) as Compose;
    expect(services.prometheus?.profiles).toEqual(['monitoring']);
    expect(services.grafana?.profiles).toEqual(['monitoring']);
    const sources = [...(services.prometheus?.volumes ?? []), ...(services.grafana?.volumes ?? [])].map(
      (v) => (typeof v === 'string' ? (v.split(':')[0] as string) : v.source),
    );
    expect(sources.some((s) => s.endsWith('deploy/grafana-dashboard.json'))).toBe(true);
    for (const source of sources) {
      expect(existsSync(source), source).toBe(true);
    }
    JSON.parse(execFileSync('cat', ['deploy/grafana-dashboard.json'], { encoding: 'utf8' }));
  });

  it('is really checked: docker-compose config refuses a broken copy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ec-compose-'));
    temps.push(dir);
    const text = await readFile('docker-compose.yml', 'utf8');
    const file = join(dir, 'docker-compose.yml');
    await writeFile(
      file,
      text.replace('  redis:\n    image: redis:7-alpine', '  redis:\n    imagee: redis:7-alpine'),
    );
    const broken = composeConfig(file);
    expect(broken.code).not.toBe(0);
    expect(broken.err).toMatch(/imagee/);
  });
});

describe('the other deploy files', () => {
  it('Dockerfile: every COPY source exists and the entry point is bin/ec.js', async () => {
    const dockerfile = await readFile('Dockerfile', 'utf8');
    const copies = dockerfile
      .split('\n')
      .filter((l) => /^COPY\s/.test(l) && !l.includes('--from='))
      .map((l) =>
        l
          .replace(/^COPY\s+/, '')
          .replace(/--\S+\s+/g, '')
          .trim()
          .split(/\s+/),
      );
    expect(copies.length).toBeGreaterThan(3);
    for (const parts of copies) {
      for (const source of parts.slice(0, -1)) {
        expect(existsSync(source), `COPY ${source}`).toBe(true);
      }
    }
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/bin\/ec\.js"\]/);
    expect(existsSync('bin/ec.js')).toBe(true);
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(dockerfile).toContain('npm run build');
    expect(pkg.scripts.build).toBeDefined();
  });

  it('.env.example names only configuration variables', async () => {
    const names = (await readFile('.env.example', 'utf8'))
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split('=')[0] as string);
    expect(names).toContain('ENCRYPTION_KEYS');
    expect(names.filter((n) => !CONFIG_VARIABLES.includes(n))).toEqual([]);
  });

  it('LICENSE matches package.json', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { license: string };
    expect(pkg.license).toBe('MIT');
    expect((await readFile('LICENSE', 'utf8')).split('\n')[0]).toBe('MIT License');
  });
});
