import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('logger redaction', () => {
  it('never writes tokens, secrets, keys or authorization headers', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        token: 'tok-SECRET-1',
        req: { headers: { authorization: 'Bearer SECRET-2' } },
        body: { client_secret: 'SECRET-3', refresh_token: 'SECRET-4', code: 'SECRET-5' },
        credentials: { private_key: 'SECRET-6' },
        serviceAccount: { credentials: 'SECRET-7' },
        key: 'SECRET-8',
        email: 'kept@example.com',
      },
      'something happened',
    );
    const out = lines.join('');
    expect(out).toContain('kept@example.com');
    expect(out).toContain('something happened');
    expect(out).not.toMatch(/SECRET-\d/);
  });
});
