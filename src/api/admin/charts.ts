import type { AppContext } from '../../services/context.js';
import type { ProfileDay } from '../../services/profile-state-days.js';
import { type RunCharts, runChartsOf } from '../../services/run-charts.js';
import { num } from './html.js';
import { chart, type Series } from './svg.js';

/** The pictures on a run's page and a Service Account's page (pure functions of loaded data). */

const COLORS = {
  provisioned: '#2e7d32',
  skipped: '#8a8f98',
  failed: '#c62828',
  connected: '#2e7d32',
  disconnected: '#c62828',
  quota: '#b42318',
};
const API_COLORS = ['#1d47a8', '#b26a00', '#6a1b9a', '#00838f'];

/** `HH:MM` (UTC), with seconds for short buckets and the date for runs longer than a day. */
function timeLabel(d: Date, bucketSecs: number, long: boolean): string {
  const iso = d.toISOString();
  const time = bucketSecs < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
  return long ? `${iso.slice(5, 10)} ${time}` : time;
}

function bucketWords(secs: number): string {
  return secs < 60 ? `${secs} s` : secs < 3600 ? `${secs / 60} min` : `${secs / 3600} h`;
}

export function runChartsHtml(c: RunCharts): string {
  const long = c.to.getTime() - c.from.getTime() > 86_400_000;
  const categories = c.progress.map((p) => timeLabel(p.at, c.bucketSecs, long));
  const series = (key: string, label: string, color: string): Series => ({
    key,
    label,
    color,
    values: c.progress.map((p) => p.values[key] ?? 0),
  });
  const total = (key: string) =>
    c.progress.reduce((s, p) => s + (p.values[key] ?? 0), 0) * (c.bucketSecs / 60);
  const peak = Math.max(
    0,
    ...c.progress.map((p) => (p.values.provisioned ?? 0) + (p.values.skipped ?? 0) + (p.values.failed ?? 0)),
  );
  const progress = chart({
    id: 'run-progress',
    title: 'Items decided per minute',
    description:
      c.progress.length === 0
        ? 'No items decided yet.'
        : `From ${c.from.toISOString().slice(0, 16)} UTC, in ${bucketWords(c.bucketSecs)} steps: ${num(Math.round(total('provisioned')))} provisioned, ${num(Math.round(total('skipped')))} skipped, ${num(Math.round(total('failed')))} failed; at most ${num(Math.round(peak))} items per minute.`,
    xLabel: 'Time (UTC)',
    yLabel: 'Items per minute',
    categories,
    bars: [
      series('provisioned', 'Provisioned', COLORS.provisioned),
      series('skipped', 'Skipped', COLORS.skipped),
      series('failed', 'Failed', COLORS.failed),
    ],
  });
  const lines: Series[] = c.apis.map((api, i) => ({
    key: api,
    label: api,
    color: API_COLORS[i % API_COLORS.length] ?? '#1d47a8',
    values: c.calls.map((p) => p.values[api] ?? 0),
  }));
  const binding = c.binding;
  const bindingText = binding
    ? ` The binding quota is ${binding.api}'s ${num(Math.round(binding.perMinute))} per minute; the run peaked at ${num(Math.round(binding.peakPerMinute))} (${Math.round((binding.peakPerMinute / binding.perMinute) * 100)} %).`
    : c.apis.length > 0
      ? ' These APIs have per-mailbox quotas only, so no line is drawn.'
      : '';
  const calls = chart({
    id: 'run-calls',
    title: 'Provider calls per minute',
    description:
      c.apis.length === 0
        ? 'No provider calls recorded for this run (verify=directory makes none per item).'
        : `Calls per minute by API, in ${bucketWords(c.bucketSecs)} steps.${bindingText}`,
    xLabel: 'Time (UTC)',
    yLabel: 'Calls per minute',
    categories: c.calls.map((p) => timeLabel(p.at, c.bucketSecs, long)),
    lines,
    thresholds: c.quotas.map((q) => ({
      label: `${q.api} quota (${q.documented})`,
      value: q.perMinute,
      color: COLORS.quota,
    })),
  });
  return `<h2>Progress over time</h2>${progress}
<h2>Provider calls against the quota</h2>${calls}`;
}

export function profileDaysHtml(days: ProfileDay[]): string {
  const counted = days.filter((d) => d.connected !== null);
  const last = counted[counted.length - 1];
  return chart({
    id: 'profiles-days',
    title: 'Profiles connected and disconnected, by day',
    description:
      counted.length === 0
        ? 'No daily counts yet: they are taken every hour.'
        : `${days.length} days to ${days[days.length - 1]?.day ?? ''} (UTC); ${counted.length} with a count. Latest: ${num(last?.connected ?? 0)} connected, ${num(last?.disconnected ?? 0)} disconnected.`,
    xLabel: 'Day (UTC)',
    yLabel: 'Profiles',
    categories: days.map((d) => d.day.slice(5)),
    bars: [
      {
        key: 'connected',
        label: 'Connected',
        color: COLORS.connected,
        values: days.map((d) => d.connected),
      },
      {
        key: 'disconnected',
        label: 'Disconnected',
        color: COLORS.disconnected,
        values: days.map((d) => d.disconnected),
      },
    ],
  });
}

/** The chart styles (one small block, no script). */
export const CHART_STYLE = `<style>figure.chart{margin:8px 0 20px;background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px}
figure.chart svg{display:block;max-width:100%;height:auto}figure.chart figcaption{font-size:13px;color:#444;margin:4px 0}
table.chart-data{font-size:12.5px}</style>`;

/** A run's two pictures, with their styles (empty for an unknown run). */
export async function runChartsSection(app: AppContext, runId: string): Promise<string> {
  const charts = await runChartsOf(app, runId);
  return charts ? `${CHART_STYLE}${runChartsHtml(charts)}` : '';
}
