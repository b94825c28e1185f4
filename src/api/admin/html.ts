import { esc, fromNow, page } from '../pages/html.js';

/** Small HTML building blocks of the dashboard (every value escaped; no scripts anywhere). */

const STYLE = `<style>
main{max-width:1280px}
header.top{display:flex;align-items:baseline;gap:24px;flex-wrap:wrap;margin-bottom:8px}
header.top h1{margin:0}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0 16px}
.tile{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px 16px;min-width:150px;color:inherit;text-decoration:none}
.tile b{display:block;font-size:22px}
.tile.bad b{color:#b42318}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#eef1f4;white-space:nowrap}
.badge.completed,.badge.active,.badge.connected,.badge.delivered{background:#e3f5e8;color:#17643a}
.badge.completed_with_errors,.badge.warn{background:#fff2d6;color:#7a4b00}
.badge.failed,.badge.broken,.badge.dead,.badge.cancelled{background:#fde3e1;color:#8a1c1c}
.badge.listing,.badge.provisioning,.badge.queued,.badge.pending{background:#e2ebff;color:#1d47a8}
progress{width:120px;height:12px;vertical-align:middle}
form.inline{display:inline;margin:0}
form.inline button{padding:3px 10px;font-size:13px}
button.danger{background:#fff;color:#b42318;border-color:#b42318}
.notice{background:#e3f5e8;border:1px solid #9fd8b1;padding:8px 14px;border-radius:6px;margin-bottom:12px}
code,.mono{font-family:ui-monospace,monospace;font-size:12.5px}
ul.reasons{margin:0;padding-left:18px}
td.wrap{max-width:380px;overflow-wrap:anywhere}
</style>`;

export type Layout = {
  title: string;
  /** Seconds between automatic reloads (meta refresh, no JavaScript); omitted = none. */
  refreshSecs?: number | undefined;
  notice?: string | undefined;
};

export function layout(l: Layout, body: string): string {
  const nav = `<header class="top"><h1>${esc(l.title)}</h1><nav>
<a href="/admin">Overview</a><a href="/admin/runs">Runs</a><a href="/admin/service-accounts">Service Accounts</a>
<a href="/admin/profiles">Disconnected Profiles</a><a href="/admin/deliveries">Dead letters</a>
<a href="/admin/failures">Failed items</a><a href="/admin/audit">Audit log</a>
<a href="/admin/queues">Queues</a><a href="/metrics">Metrics</a><a href="/docs">API docs</a></nav></header>`;
  const notice = l.notice ? `<div class="notice" role="status">${esc(l.notice)}</div>` : '';
  const refresh = l.refreshSecs ? `<p class="muted">This page reloads every ${l.refreshSecs} s.</p>` : '';
  return page(`${l.title} · Enterprise Connect`, `${STYLE}${nav}${notice}${body}${refresh}`, {
    ...(l.refreshSecs ? { refreshSecs: l.refreshSecs } : {}),
  });
}

export type Cell = string | { html: string; className?: string };

/** A table; string cells are escaped, `{ html }` cells are trusted markup built with these helpers. */
export function table(
  headers: string[],
  rows: Cell[][],
  opts: { numeric?: number[]; empty?: string; noHeader?: boolean } = {},
) {
  if (rows.length === 0) {
    return `<p class="muted">${esc(opts.empty ?? 'Nothing to show.')}</p>`;
  }
  const numeric = new Set(opts.numeric ?? []);
  const th = headers.map((h, i) => `<th${numeric.has(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const tr = rows
    .map(
      (r) =>
        `<tr>${r
          .map((c, i) => {
            const cls = [numeric.has(i) ? 'num' : '', typeof c === 'object' ? (c.className ?? '') : '']
              .filter(Boolean)
              .join(' ');
            return `<td${cls ? ` class="${cls}"` : ''}>${typeof c === 'string' ? esc(c) : c.html}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  const head = opts.noHeader ? '' : `<thead><tr>${th}</tr></thead>`;
  return `<table>${head}<tbody>\n${tr}\n</tbody></table>`;
}

export const badge = (text: string, kind = text) => `<span class="badge ${esc(kind)}">${esc(text)}</span>`;

export const num = (n: number) => n.toLocaleString('en-US');

export function when(d: Date | null | undefined, now = new Date()): string {
  if (!d) {
    return '—';
  }
  if (d.getUTCFullYear() >= 9999) {
    return 'paused';
  }
  return fromNow(d, now.getTime());
}

export const dateCell = (d: Date | null | undefined): Cell => ({
  html: d ? `<span title="${esc(d.toISOString())}">${esc(when(d))}</span>` : '—',
});

export function duration(secs: number | null): string {
  if (secs === null || !Number.isFinite(secs)) {
    return '—';
  }
  if (secs < 90) {
    return `${Math.round(secs)} s`;
  }
  if (secs < 5400) {
    return `${Math.round(secs / 60)} min`;
  }
  return `${(secs / 3600).toFixed(1)} h`;
}

/** A POST button; the hidden field proves the form came from this dashboard (see auth.ts). */
export function postButton(action: string, label: string, csrf: string, cls = 'secondary'): string {
  return `<form class="inline" method="post" action="${esc(action)}"><input type="hidden" name="csrf" value="${esc(csrf)}"><button type="submit" class="${esc(cls)}">${esc(label)}</button></form>`;
}

export const link = (href: string, text: string) => `<a href="${esc(href)}">${esc(text)}</a>`;
