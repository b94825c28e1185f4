import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BENCH = fileURLToPath(new URL('../../bench/index.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ec-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run bench -- <args>` as users run it, its results written to a directory of the test's own. */
function bench(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BENCH, ...args], {
      env: { ...process.env, BENCH_RESULTS_DIR: dir, NO_PROXY: '127.0.0.1,localhost' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bench ${args.join(' ')} exited ${code}:\n${err}`)),
    );
  });
}

const today = () => new Date().toISOString().slice(0, 10);

describe('benchmarks on a tiny org (the CI smoke: every figure is produced, nothing is lost)', () => {
  it('throughput: every Account called back, figures against the reference', async () => {
    await bench(['throughput', '--scenario', 'microsoft-20k-0ms', '--users', '300', '--workers', '1']);
    const out = JSON.parse(readFileSync(join(dir, `throughput-${today()}.json`), 'utf8')) as {
      results: Record<string, unknown>[];
    };
    const r = out.results[0] as Record<string, number | null> & {
      run: { provisioned: number; listed: number; status: string };
      reference: { accounts: number };
    };
    expect(r.run.status).toMatch(/^completed/);
    expect(r.run.listed).toBe(300);
    expect(r.run.provisioned).toBeGreaterThan(200);
    expect(r.callbacks_received).toBe(r.run.provisioned);
    expect(r.reference.accounts).toBeGreaterThan(200);
    expect(r.ratio_to_reference).toBeGreaterThan(0);
    expect(r.worker_cpu_ms_per_account).toBeGreaterThan(0);
    expect(r.commits_per_account).toBeGreaterThan(0);
    expect(r.redis_commands_per_account).toBeGreaterThan(0);
    expect(r.quota_violations).toBe(0);
    // What bound the run: the machine's busy share and Postgres's CPU (it did commit the Accounts).
    const machine = r.machine_cpu as unknown as {
      busy_share: number;
      postgres_cpu_seconds: number;
      cores: number;
    };
    expect(machine.busy_share).toBeGreaterThan(0);
    expect(machine.busy_share).toBeLessThanOrEqual(1);
    expect(machine.postgres_cpu_seconds).toBeGreaterThan(0);
    expect(machine.cores).toBeGreaterThan(0);
  }, 240_000);

  it('userinfo: the product and the reference both answer every request', async () => {
    await bench(['userinfo', '--seconds', '1', '--connections', '4', '--rounds', '2']);
    const r = JSON.parse(readFileSync(join(dir, `userinfo-${today()}.json`), 'utf8')) as {
      product: { requests: number; errors: number; p99: number; rounds: unknown[] };
      reference: { rps: number; requests: number; errors: number; rounds: unknown[] };
      ratios: number[];
      ratio_rps: number;
    };
    expect(r.product.requests).toBeGreaterThan(10);
    expect(r.product.errors).toBe(0);
    expect(r.reference.requests).toBeGreaterThan(10);
    expect(r.reference.errors).toBe(0);
    expect(r.reference.rps).toBeGreaterThan(0);
    // Reference, product, reference, product, reference: each product round against its neighbours.
    expect(r.product.rounds).toHaveLength(2);
    expect(r.reference.rounds).toHaveLength(3);
    expect(r.ratios).toHaveLength(2);
    expect(r.ratio_rps).toBeGreaterThan(0);
  }, 240_000);
});
