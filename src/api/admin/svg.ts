import { esc } from '../pages/html.js';

/**
 * Server-rendered charts: inline SVG, no script, so they draw with JavaScript off. Each chart is a
 * `role="img"` with a `<title>` and `<desc>` (what a screen reader says), labelled axes, a legend,
 * a tooltip (`<title>`) on every bar and point, and the same numbers as a table below it.
 */

/** `null`: no value for that category (no bar; `—` in the table), unlike a counted 0. */
export type Series = { key: string; label: string; color: string; values: (number | null)[] };

export type ChartSpec = {
  /** Unique on the page (ids of the title and description). */
  id: string;
  title: string;
  /** One or two sentences summing the picture up (the `<desc>`). */
  description: string;
  xLabel: string;
  yLabel: string;
  /** The x positions (time buckets or days): axis label and the table's first column. */
  categories: string[];
  /** Stacked bars, bottom first. */
  bars?: Series[];
  /** Lines over the bars. */
  lines?: Series[];
  /** Horizontal dashed lines (a quota). */
  thresholds?: { label: string; value: number; color: string }[];
  /** How values show in tooltips and the table. Default: rounded, thousands separated. */
  format?: (n: number) => string;
};

const WIDTH = 920;
const HEIGHT = 300;
const PAD = { left: 72, right: 16, top: 16, bottom: 76 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;

const defaultFormat = (n: number) =>
  (n >= 10 || n === 0 ? Math.round(n) : Number(n.toPrecision(2))).toLocaleString('en-US');

/** 0 and 4–5 round steps up to at least `max` (1, 2, 2.5 or 5 times a power of ten). */
export function niceTicks(max: number): number[] {
  if (!(max > 0) || !Number.isFinite(max)) {
    return [0, 1];
  }
  const rough = max / 4;
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * pow >= rough) ?? 10) * pow;
  const ticks: number[] = [];
  for (let v = 0; v < max + step - 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

const f1 = (n: number) => n.toFixed(1);

export function chart(spec: ChartSpec): string {
  const fmt = spec.format ?? defaultFormat;
  const bars = spec.bars ?? [];
  const lines = spec.lines ?? [];
  const thresholds = spec.thresholds ?? [];
  const n = spec.categories.length;
  const stackTop = spec.categories.map((_, i) => bars.reduce((s, b) => s + (b.values[i] ?? 0), 0));
  const max = Math.max(
    0,
    ...stackTop,
    ...lines.flatMap((l) => l.values.map((v) => v ?? 0)),
    ...thresholds.map((t) => t.value),
  );
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? 1;
  const y = (v: number) => PAD.top + PLOT_H - (v / top) * PLOT_H;
  const slot = PLOT_W / Math.max(1, n);
  const x = (i: number) => PAD.left + i * slot;
  const parts: string[] = [];

  for (const t of ticks) {
    parts.push(
      `<line x1="${PAD.left}" x2="${PAD.left + PLOT_W}" y1="${f1(y(t))}" y2="${f1(y(t))}" stroke="#e3e6ea"/>`,
      `<text x="${PAD.left - 6}" y="${f1(y(t) + 4)}" text-anchor="end" font-size="11" fill="#444">${esc(fmt(t))}</text>`,
    );
  }
  // Bars, stacked bottom first; each segment says what it is when hovered.
  const barW = Math.max(1, slot * 0.8);
  spec.categories.forEach((cat, i) => {
    let base = 0;
    for (const b of bars) {
      const v = b.values[i] ?? 0;
      if (v > 0) {
        parts.push(
          `<rect x="${f1(x(i) + (slot - barW) / 2)}" y="${f1(y(base + v))}" width="${f1(barW)}" height="${f1(y(base) - y(base + v))}" fill="${b.color}"><title>${esc(`${cat}: ${fmt(v)} ${b.label}`)}</title></rect>`,
        );
      }
      base += v;
    }
  });
  for (const l of lines) {
    const pts = l.values.map((v, i) => `${f1(x(i) + slot / 2)},${f1(y(v ?? 0))}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${l.color}" stroke-width="2"/>`);
    l.values.forEach((value, i) => {
      const v = value ?? 0;
      parts.push(
        `<circle cx="${f1(x(i) + slot / 2)}" cy="${f1(y(v))}" r="2.5" fill="${l.color}"><title>${esc(`${spec.categories[i] ?? ''}: ${fmt(v)} ${l.label}`)}</title></circle>`,
      );
    });
  }
  for (const t of thresholds) {
    parts.push(
      `<line x1="${PAD.left}" x2="${PAD.left + PLOT_W}" y1="${f1(y(t.value))}" y2="${f1(y(t.value))}" stroke="${t.color}" stroke-width="1.5" stroke-dasharray="6 4"><title>${esc(`${t.label}: ${fmt(t.value)}`)}</title></line>`,
      `<text x="${PAD.left + PLOT_W - 4}" y="${f1(y(t.value) - 4)}" text-anchor="end" font-size="11" fill="${t.color}">${esc(`${t.label}: ${fmt(t.value)}`)}</text>`,
    );
  }
  // Axes, their labels, and at most ~8 category labels.
  parts.push(
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + PLOT_H}" stroke="#333"/>`,
    `<line x1="${PAD.left}" x2="${PAD.left + PLOT_W}" y1="${PAD.top + PLOT_H}" y2="${PAD.top + PLOT_H}" stroke="#333"/>`,
  );
  const every = Math.max(1, Math.ceil(n / 8));
  spec.categories.forEach((cat, i) => {
    if (i % every === 0) {
      parts.push(
        `<text x="${f1(x(i) + slot / 2)}" y="${PAD.top + PLOT_H + 16}" text-anchor="middle" font-size="11" fill="#444">${esc(cat)}</text>`,
      );
    }
  });
  parts.push(
    `<text x="${PAD.left + PLOT_W / 2}" y="${PAD.top + PLOT_H + 34}" text-anchor="middle" font-size="12" fill="#222">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(16 ${PAD.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#222">${esc(spec.yLabel)}</text>`,
  );
  // Legend, one row under the axis label.
  let lx = PAD.left;
  const ly = HEIGHT - 14;
  for (const s of [...bars, ...lines]) {
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${lx + 16}" y="${ly + 1}" font-size="12" fill="#222">${esc(s.label)}</text>`,
    );
    lx += 28 + s.label.length * 7;
  }
  for (const t of thresholds) {
    parts.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 3}" y2="${ly - 3}" stroke="${t.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<text x="${lx + 22}" y="${ly + 1}" font-size="12" fill="#222">${esc(t.label)}</text>`,
    );
    lx += 34 + t.label.length * 7;
  }
  const svg = `<svg class="chart" role="img" aria-labelledby="${spec.id}-title ${spec.id}-desc" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif">
<title id="${spec.id}-title">${esc(spec.title)}</title>
<desc id="${spec.id}-desc">${esc(spec.description)}</desc>
${parts.join('\n')}
</svg>`;
  return `<figure class="chart" id="${spec.id}">${svg}
<figcaption>${esc(spec.description)}</figcaption>
${dataTable(spec, fmt)}</figure>`;
}

const cellText = (v: number | null | undefined, fmt: (n: number) => string) =>
  v === null ? '—' : fmt(v ?? 0);

/** The chart's numbers as a table (the text fallback), in a disclosure that needs no script. */
function dataTable(spec: ChartSpec, fmt: (n: number) => string): string {
  const series = [...(spec.bars ?? []), ...(spec.lines ?? [])];
  const head = [spec.xLabel, ...series.map((s) => s.label)]
    .map((h, i) => `<th${i > 0 ? ' class="num"' : ''} scope="col">${esc(h)}</th>`)
    .join('');
  const rows = spec.categories
    .map(
      (cat, i) =>
        `<tr><th scope="row">${esc(cat)}</th>${series.map((s) => `<td class="num">${esc(cellText(s.values[i], fmt))}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const notes = (spec.thresholds ?? []).map((t) => `${t.label}: ${fmt(t.value)}`).join('; ');
  return `<details><summary>${esc(spec.title)} as a table</summary>
<table class="chart-data"><caption>${esc(spec.title)} (${esc(spec.yLabel)})${notes ? `; ${esc(notes)}` : ''}</caption><thead><tr>${head}</tr></thead><tbody>
${rows}
</tbody></table></details>`;
}
