/**
 * CSV export (RFC 4180) that is safe to open in a spreadsheet: every cell is quoted when it holds a
 * quote, comma, CR or LF, and a cell a spreadsheet would read as a formula — one starting with `=`,
 * `+`, `-`, `@`, a tab or a carriage return (OWASP "CSV injection") — is prefixed with `'`, so it
 * shows as the text it is. Lines end with CRLF.
 */

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) {
    return '';
  }
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(cells: readonly (string | number | boolean | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
