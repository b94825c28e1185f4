import { describe, expect, it } from 'vitest';
import { chart, niceTicks } from './svg.js';

describe('niceTicks', () => {
  it('covers the maximum with round steps from 0', () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(750)).toEqual([0, 200, 400, 600, 800]);
    expect(niceTicks(21_000)).toEqual([0, 10000, 20000, 30000]);
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    for (const max of [0.3, 7, 99, 101, 12_345, 1e9]) {
      const ticks = niceTicks(max);
      expect(ticks[0]).toBe(0);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(max);
      expect(ticks.length).toBeLessThanOrEqual(7);
    }
  });
});

describe('chart', () => {
  const spec = {
    id: 'c1',
    title: 'Calls <script>alert(1)</script>',
    description: 'A & B "quoted"',
    xLabel: 'Time',
    yLabel: 'Per minute',
    categories: ['10:00', '10:01'],
    bars: [{ key: 'a', label: 'A<b>', color: '#123456', values: [3, 0] }],
    lines: [{ key: 'l', label: 'line', color: '#654321', values: [1, 2] }],
    thresholds: [{ label: 'quota', value: 5, color: '#b42318' }],
  };

  it('escapes every text and names the picture for assistive technology', () => {
    const html = chart(spec);
    expect(html).not.toContain('<script>');
    expect(html).toContain('<title id="c1-title">Calls &lt;script&gt;alert(1)&lt;/script&gt;</title>');
    expect(html).toContain('<desc id="c1-desc">A &amp; B &quot;quoted&quot;</desc>');
    expect(html).toContain('role="img" aria-labelledby="c1-title c1-desc"');
    expect(html).toContain('>A&lt;b&gt;</text>');
  });

  it('draws a bar only where there is a value, a line point per category, and a table of them', () => {
    const html = chart(spec);
    expect(html.match(/<rect[^>]*fill="#123456"><title>/g)).toHaveLength(1);
    expect(html.match(/<circle /g)).toHaveLength(2);
    expect(html).toContain('stroke-dasharray="6 4"');
    expect(html).toContain('<tr><th scope="row">10:01</th><td class="num">0</td><td class="num">2</td></tr>');
  });

  it('tells a category without a value (—) from a counted 0', () => {
    const html = chart({
      ...spec,
      bars: [{ key: 'a', label: 'A', color: '#123456', values: [null, 0] }],
      lines: [],
    });
    expect(html).toContain('<tr><th scope="row">10:00</th><td class="num">—</td></tr>');
    expect(html).toContain('<tr><th scope="row">10:01</th><td class="num">0</td></tr>');
    expect(html).not.toMatch(/<rect[^>]*fill="#123456"><title>/);
  });
});
