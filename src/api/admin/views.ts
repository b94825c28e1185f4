import { effectiveExpiry } from '../../services/credential-dates.js';
import type {
  DisconnectedGroup,
  DisconnectedProfile,
  OutboundDelivery,
  RunItem,
  ServiceAccountHealth,
} from '../../services/operations.js';
import { isActiveRunStatus, type RunView } from '../../services/provisioning.js';
import { REASON_DESCRIPTIONS } from '../../services/reasons.js';
import { expiryWarnings } from '../../services/service-accounts.js';
import { esc } from '../pages/html.js';
import { badge, type Cell, dateCell, duration, link, num, postButton, table } from './html.js';

/** The dashboard's sections, as pure functions of already-loaded data. */

export type AdminRun = RunView & { provider: string; domain: string };

export const isActive = (r: { status: string }) => isActiveRunStatus(r.status);

export function describeReason(key: string): string {
  return (REASON_DESCRIPTIONS as Record<string, string>)[key] ?? '';
}

function progress(r: AdminRun): string {
  const done = r.counts.provisioned + (r.counts.would_provision ?? 0) + r.counts.skipped + r.counts.failed;
  const max = Math.max(r.counts.listed, done, 1);
  const pct = Math.floor((done / max) * 100);
  const label = r.listing_complete ? `${pct}%` : `${pct}% (listing…)`;
  return `<progress value="${done}" max="${max}" title="${esc(label)}">${esc(label)}</progress> <span class="muted">${esc(label)}</span>`;
}

function reasonsList(list: { error_key: string; count: number }[], max = 3): string {
  if (list.length === 0) {
    return '—';
  }
  const shown = list
    .slice(0, max)
    .map((f) => `<li><code>${esc(f.error_key)}</code> ${num(f.count)}</li>`)
    .join('');
  const more = list.length > max ? `<li class="muted">${list.length - max} more…</li>` : '';
  return `<ul class="reasons">${shown}${more}</ul>`;
}

export function runActions(r: AdminRun, csrf: string): string {
  const parts: string[] = [];
  if (r.counts.failed > 0 && r.status !== 'cancelled' && !r.dry_run) {
    parts.push(postButton(`/admin/runs/${r.id}/retry`, `Retry ${num(r.counts.failed)} failed`, csrf));
  }
  if (isActive(r)) {
    parts.push(postButton(`/admin/runs/${r.id}/cancel`, 'Cancel', csrf, 'danger'));
  }
  return parts.join(' ') || '—';
}

export function runsTable(runs: AdminRun[], csrf: string): string {
  return table(
    [
      'Run',
      'Organization',
      'Status',
      'Progress',
      'Listed',
      'Provisioned',
      'Skipped',
      'Failed',
      'Pending',
      'Rate',
      'ETA',
      'Failures by reason',
      '',
    ],
    runs.map((r): Cell[] => [
      { html: link(`/admin/runs/${r.id}`, r.id), className: 'mono' },
      `${r.provider} · ${r.domain}`,
      { html: `${badge(r.status)}${r.dry_run ? ` ${badge('dry run', 'warn')}` : ''}` },
      { html: progress(r) },
      num(r.counts.listed),
      num(r.dry_run ? (r.counts.would_provision ?? 0) : r.counts.provisioned),
      num(r.counts.skipped),
      num(r.counts.failed),
      num(r.counts.pending),
      `${r.rate_per_second}/s`,
      isActive(r) ? duration(r.eta_seconds) : '—',
      { html: reasonsList(r.failures_by_reason) },
      { html: runActions(r, csrf) },
    ]),
    { numeric: [4, 5, 6, 7, 8, 9], empty: 'No provisioning runs yet.' },
  );
}

export function runPage(
  r: AdminRun,
  failed: RunItem[],
  reasonFilter: string | undefined,
  csrf: string,
  /** The run's pictures (charts.ts), under its facts. */
  charts = '',
): string {
  const elapsed =
    r.started_at === null
      ? null
      : ((r.finished_at ? Date.parse(r.finished_at) : Date.now()) - Date.parse(r.started_at)) / 1000;
  const facts = table(
    ['', ''],
    [
      ['Organization', `${r.provider} · ${r.domain} (${r.service_account_id})`],
      [
        'Status',
        { html: `${badge(r.status)}${r.dry_run ? ` ${badge('dry run', 'warn')}` : ''} ${progress(r)}` },
      ],
      ['Includes', `${r.include.join(', ')} · verify: ${r.verify}`],
      ['Listed', num(r.counts.listed) + (r.listing_complete ? '' : ' (still listing)')],
      [
        r.dry_run ? 'Would provision' : 'Provisioned',
        num(r.dry_run ? (r.counts.would_provision ?? 0) : r.counts.provisioned),
      ],
      ['Skipped', num(r.counts.skipped)],
      ['Failed', num(r.counts.failed)],
      ['Pending', num(r.counts.pending)],
      ['Rate', `${r.rate_per_second} items/s`],
      ['ETA', isActive(r) ? duration(r.eta_seconds) : '—'],
      ['Started', r.started_at ?? '—'],
      ['Finished', r.finished_at ?? '—'],
      ['Elapsed', duration(elapsed)],
      ...(r.error ? [['Error', r.error] as Cell[]] : []),
    ],
    { noHeader: true },
  );
  const reasonRows = (list: { error_key: string; count: number }[], status: string) =>
    list.map((f): Cell[] => [
      {
        html:
          status === 'failed'
            ? link(`/admin/runs/${r.id}?reason=${encodeURIComponent(f.error_key)}`, f.error_key)
            : esc(f.error_key),
        className: 'mono',
      },
      num(f.count),
      describeReason(f.error_key),
    ]);
  const failedTitle = reasonFilter ? `Failed items: ${reasonFilter}` : 'Failed items';
  return `
<div class="card">${facts}<p>${runActions(r, csrf)}</p></div>${charts}
<h2>Failures by reason</h2>
${table(['Reason', 'Items', 'What it means'], reasonRows(r.failures_by_reason, 'failed'), { numeric: [1], empty: 'No failures.' })}
<h2>Skipped by reason</h2>
${table(['Reason', 'Items', 'What it means'], reasonRows(r.skipped_by_reason, 'skipped'), { numeric: [1], empty: 'Nothing skipped.' })}
<h2>${esc(failedTitle)}${reasonFilter ? ` <span class="muted">(${link(`/admin/runs/${r.id}`, 'all reasons')})</span>` : ''}</h2>
${table(
  ['Email', 'Kind', 'Reason', 'Description', 'Attempts'],
  failed.map((i): Cell[] => [
    i.email,
    i.kind,
    { html: `<code>${esc(i.errorKey ?? 'unknown')}</code>` },
    { html: esc(i.errorDescription ?? ''), className: 'wrap' },
    String(i.attempts),
  ]),
  { numeric: [4], empty: 'No failed items.' },
)}
${failed.length >= 100 ? `<p class="muted">First 100 shown: ${link(`/admin/failures?run=${r.id}`, 'search and page through all of them')}, or the API: GET /v1/provisioning_runs/{id}/items?status=failed</p>` : ''}
${r.counts.failed > 0 ? `<p>${link(`/admin/runs/${r.id}/failures.csv`, 'Download the failed items as CSV')}</p>` : ''}`;
}

export function serviceAccountsTable(list: ServiceAccountHealth[]): string {
  return table(
    [
      'Service Account',
      'Organization',
      'Status',
      'Why broken',
      'Last directory sync',
      'Next sync',
      'Profiles connected',
      'Disconnected',
      'Credential expiry',
    ],
    list.map(({ serviceAccount: sa, connected, disconnected }): Cell[] => {
      const expiresAt = effectiveExpiry(sa)?.at ?? null;
      const warnings = expiryWarnings(expiresAt);
      return [
        { html: link(`/admin/service-accounts/${sa.id}`, sa.id), className: 'mono' },
        `${sa.provider} · ${sa.domain}`,
        { html: badge(sa.status) },
        {
          html:
            sa.status === 'broken'
              ? `<code>${esc(sa.brokenReason ?? 'unknown')}</code> ${esc(describeReason(sa.brokenReason ?? ''))}${sa.lastError ? `<br><span class="muted">${esc(sa.lastError)}</span>` : ''}`
              : '—',
          className: 'wrap',
        },
        dateCell(sa.lastDirectorySyncAt),
        dateCell(sa.nextDirectorySyncAt),
        num(connected),
        num(disconnected),
        {
          html:
            warnings.length > 0
              ? `${badge('expiring', 'warn')} ${esc(warnings.join(' '))}`
              : expiresAt
                ? esc(expiresAt.toISOString().slice(0, 10))
                : '<span class="muted">unknown</span>',
          className: 'wrap',
        },
      ];
    }),
    { numeric: [6, 7], empty: 'No Service Accounts yet.' },
  );
}

export function disconnectedTable(groups: DisconnectedGroup[]): string {
  return table(
    ['Reason', 'What it means', 'Organization', 'Profiles', 'Last disconnected', 'Next check'],
    groups.map((g): Cell[] => [
      { html: link(`/admin/profiles?reason=${encodeURIComponent(g.reason)}`, g.reason), className: 'mono' },
      describeReason(g.reason),
      g.domain,
      num(g.count),
      dateCell(g.lastDisconnectedAt),
      dateCell(g.nextCheckAt),
    ]),
    { numeric: [3], empty: 'Every Profile is connected.' },
  );
}

export function disconnectedProfilesTable(list: DisconnectedProfile[]): string {
  return table(
    ['Profile', 'Email', 'Reason', 'Disconnected', 'Failed checks', 'Next check'],
    list.map((p): Cell[] => [
      { html: esc(p.profileId), className: 'mono' },
      p.email,
      { html: `<code>${esc(p.reason)}</code>` },
      dateCell(p.disconnectedAt),
      String(p.failureCount),
      dateCell(p.nextCheckAt),
    ]),
    { numeric: [4], empty: 'No disconnected Profiles.' },
  );
}

export function deadLettersTable(list: OutboundDelivery[], csrf: string): string {
  return table(
    ['Delivery', 'Kind', 'URL', 'Attempts', 'Last status', 'Last error', 'Dead since', 'About', ''],
    list.map((d): Cell[] => [
      { html: esc(d.id), className: 'mono' },
      d.kind,
      { html: esc(d.url), className: 'wrap mono' },
      String(d.attempts),
      d.lastStatusCode === null ? '—' : String(d.lastStatusCode),
      { html: esc(d.lastError ?? ''), className: 'wrap' },
      dateCell(d.deadAt),
      {
        html: d.runId ? link(`/admin/runs/${d.runId}`, d.runId) : esc(d.accountId ?? d.channelId ?? '—'),
        className: 'mono',
      },
      { html: postButton(`/admin/deliveries/${d.id}/retry`, 'Retry', csrf) },
    ]),
    { numeric: [3], empty: 'No dead letters.' },
  );
}

export type Tiles = {
  activeRuns: number;
  brokenServiceAccounts: number;
  expiringCredentials: number;
  disconnectedProfiles: number;
  deadLetters: number;
};

export function tiles(t: Tiles): string {
  const tile = (label: string, value: number, href: string, bad: boolean) =>
    `<a class="tile${bad && value > 0 ? ' bad' : ''}" href="${esc(href)}"><b>${num(value)}</b>${esc(label)}</a>`;
  return `<div class="tiles">
${tile('active runs', t.activeRuns, '/admin/runs', false)}
${tile('broken Service Accounts', t.brokenServiceAccounts, '/admin/service-accounts', true)}
${tile('credentials expiring', t.expiringCredentials, '/admin/service-accounts', true)}
${tile('disconnected Profiles', t.disconnectedProfiles, '/admin/profiles', true)}
${tile('dead letters', t.deadLetters, '/admin/deliveries', true)}
</div>`;
}
