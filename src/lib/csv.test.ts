import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { csvCell, csvLine } from './csv.js';

/** Parses CSV with Python's csv module (an independent RFC 4180 reader), returning the rows. */
function parseWithPython(text: string): string[][] {
  const out = execFileSync(
    'python3',
    [
      '-c',
      'import csv,io,json,sys; data=sys.stdin.buffer.read().decode("utf-8"); print(json.dumps(list(csv.reader(io.StringIO(data, newline="")))))',
    ],
    { input: Buffer.from(text, 'utf8') },
  );
  return JSON.parse(out.toString('utf8')) as string[][];
}

const HOSTILE = [
  'plain',
  "=cmd|' /C calc'!A0",
  '+1+1',
  '-2+3',
  '@SUM(A1:A2)',
  '\tleading tab',
  '\rleading CR',
  'comma, inside',
  'quote " inside',
  '"starts with a quote',
  'new\nline',
  'crlf\r\nline',
  'nul\u0000byte',
  'unicode ✓ Zoë 日本',
  '',
  "'already quoted",
];

describe('csv', () => {
  it('round-trips hostile values through an independent parser, formulas neutralised', () => {
    const text = csvLine(['header', 'n']) + HOSTILE.map((v, i) => csvLine([v, i])).join('');
    const rows = parseWithPython(text);
    expect(rows[0]).toEqual(['header', 'n']);
    expect(rows).toHaveLength(HOSTILE.length + 1);
    HOSTILE.forEach((v, i) => {
      const cell = rows[i + 1]?.[0];
      // A cell a spreadsheet would evaluate gets a leading apostrophe; everything else is exact.
      expect(cell).toBe(/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
      expect(rows[i + 1]?.[1]).toBe(String(i));
    });
  });

  it('quotes only what needs quoting and never starts a cell with a formula character', () => {
    expect(csvCell('abc')).toBe('abc');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('a"b')).toBe('"a""b"');
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('-x,y')).toBe('"\'-x,y"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(-5)).toBe('-5');
    for (const v of HOSTILE) {
      expect(csvCell(v).replace(/^"/, '')).not.toMatch(/^[=+\-@\t\r]/);
    }
  });
});
