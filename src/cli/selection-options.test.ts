import { describe, expect, it } from 'vitest';
import { emailsOfCsv } from './selection-options.js';

describe('ec onboard --emails', () => {
  it('reads a plain list, a CSV export by its email column, quoted fields and CRLF', () => {
    expect(emailsOfCsv('a@example.com\n\nB@example.com\n')).toEqual(['a@example.com', 'B@example.com']);
    expect(
      emailsOfCsv(
        '\uFEFFName,Primary Email,Org\r\n"Doe, Jane",jane@example.com,/Sales\r\n"Kim ""K""",kim@example.com,/\r\n',
      ),
    ).toEqual(['jane@example.com', 'kim@example.com']);
    expect(emailsOfCsv('x@example.com;ignored\ny@example.com\tignored')).toEqual([
      'x@example.com',
      'y@example.com',
    ]);
  });

  it('keeps what is not an address, for the run to refuse with its line', () => {
    expect(emailsOfCsv('email\nnot an email\n')).toEqual(['not an email']);
  });
});
