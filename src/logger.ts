import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear in a log line (tokens, secrets, keys, credentials,
 * authorization headers). Wildcards cover one level of nesting, so they also match `req.headers.*`
 * and fields of objects logged under any key.
 */
export const REDACT_PATHS = [
  'authorization',
  'password',
  'secret',
  'token',
  'key',
  'credentials',
  '*.authorization',
  '*.Authorization',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.client_secret',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.refreshToken',
  '*.refresh_token',
  '*.code',
  '*.key',
  '*.private_key',
  '*.privateKey',
  '*.credentials',
  '*.assertion',
  '*.*.authorization',
  '*.*.Authorization',
  '*.*.client_secret',
  '*.*.private_key',
  '*.*.access_token',
  '*.*.refresh_token',
  'req.headers.cookie',
  'headers["cronofy-hmac-sha256"]',
];

export type LoggerOptions = {
  level: string;
  /** Pretty output; defaults to whether stdout is a TTY. */
  pretty?: boolean;
  /** Where to write; defaults to stdout. Tests pass a stream to inspect what was logged. */
  destination?: DestinationStream;
};

export function createLogger(opts: LoggerOptions): Logger {
  const base = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (opts.destination) {
    return pino(base, opts.destination);
  }
  if (opts.pretty ?? process.stdout.isTTY) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } },
    });
  }
  return pino(base);
}
