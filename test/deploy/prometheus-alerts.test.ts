import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * deploy/prometheus/alerts.yml: parsed and checked against the gauge the API serves, and — with
 * Debian's promtool (`apt-get install prometheus`) — validated (`promtool check rules`) and unit-tested
 * (`promtool test rules deploy/prometheus/alerts.test.yml`: which alert fires for which Service
 * Account at 30, 7 and 1 days, and when expired, annotations included).
 */
type Rule = {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};

const METRIC = 'ec_service_account_credential_expiry_seconds';
const promtool = spawnSync('promtool', ['--version']).status === 0;

async function rules(): Promise<Rule[]> {
  const doc = parse(await readFile('deploy/prometheus/alerts.yml', 'utf8')) as {
    groups: { name: string; rules: Rule[] }[];
  };
  expect(doc.groups).toHaveLength(1);
  return doc.groups.flatMap((g) => g.rules);
}

describe('deploy/prometheus/alerts.yml', () => {
  it('alerts on the credential expiry gauge the API serves, in four bands that do not overlap', async () => {
    const list = await rules();
    expect(list.map((r) => r.alert)).toEqual([
      'ServiceAccountCredentialExpiringIn30Days',
      'ServiceAccountCredentialExpiringIn7Days',
      'ServiceAccountCredentialExpiringIn1Day',
      'ServiceAccountCredentialExpired',
    ]);
    const source = await readFile('src/metrics/credential-expiry.ts', 'utf8');
    expect(source).toContain(`name: '${METRIC}'`);
    expect(source).toContain("labelNames: ['service_account']");
    for (const r of list) {
      expect(r.expr).toContain(METRIC);
      expect(r.labels.severity).toMatch(/^(info|warning|critical)$/);
      expect(r.annotations.summary).toContain('{{ $labels.service_account }}');
    }
    // The bands, evaluated for a few values: exactly one alert matches each (none for 40 days).
    const band = (seconds: number) =>
      list
        .filter((r) =>
          r.expr.split(' and ').every((clause) => {
            const m = /(<=|>)\s*(-?[\d\s*]+)$/.exec(clause.trim());
            const limit = m?.[2] ? m[2].split('*').reduce((a, b) => a * Number(b.trim()), 1) : Number.NaN;
            return m?.[1] === '<=' ? seconds <= limit : seconds > limit;
          }),
        )
        .map((r) => r.alert);
    expect(band(40 * 86400)).toEqual([]);
    expect(band(20 * 86400)).toEqual(['ServiceAccountCredentialExpiringIn30Days']);
    expect(band(3 * 86400)).toEqual(['ServiceAccountCredentialExpiringIn7Days']);
    expect(band(3600)).toEqual(['ServiceAccountCredentialExpiringIn1Day']);
    expect(band(-1)).toEqual(['ServiceAccountCredentialExpired']);
  });

  it('is loaded by deploy/prometheus.yml and mounted by docker-compose.yml', async () => {
    const config = parse(await readFile('deploy/prometheus.yml', 'utf8')) as { rule_files: string[] };
    expect(config.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    const compose = await readFile('docker-compose.yml', 'utf8');
    expect(compose).toContain('./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
  });

  it.skipIf(!promtool)('passes promtool check rules and its unit tests', () => {
    const check = spawnSync('promtool', ['check', 'rules', 'deploy/prometheus/alerts.yml'], {
      encoding: 'utf8',
    });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('SUCCESS: 4 rules found');
    const test = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], {
      cwd: 'deploy/prometheus',
      encoding: 'utf8',
    });
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toContain('SUCCESS');
    // A broken copy fails, so the check is not vacuous.
    const broken = spawnSync('promtool', ['check', 'rules', '/dev/stdin'], {
      input:
        'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: ec_service_account_credential_expiry_seconds <=\n',
      encoding: 'utf8',
    });
    expect(broken.status).not.toBe(0);
  });
});
