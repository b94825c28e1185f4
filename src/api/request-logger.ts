import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
type Level = (typeof LEVELS)[number];
type LogMethod = (...args: unknown[]) => void;

/**
 * A request's logger that becomes pino's child (with the request id) only when the request logs a
 * line at an enabled level. Fastify makes a child logger for every request; with the redaction
 * paths (logger.ts), pino passes the child's bindings through its redaction when it makes one, about
 * 5% of the API's CPU on `GET /v1/userinfo`, for requests that almost never log anything.
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  #real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  #child(): FastifyBaseLogger {
    this.#real ??= this.parent.child(this.bindings, this.opts);
    return this.#real;
  }

  get level(): string {
    return this.#real?.level ?? this.opts.level ?? this.parent.level;
  }

  set level(level: string) {
    this.#child().level = level;
  }

  log(level: Level, args: unknown[]): void {
    if (this.#real || this.#enabled(level)) {
      (this.#child()[level] as (...a: unknown[]) => void)(...args);
    }
  }

  /** Whether the child would write a line at `level`: pino's own levels, at the route's level if it has one. */
  #enabled(level: Level): boolean {
    const { level: routeLevel } = this.opts;
    if (routeLevel === undefined) {
      return this.parent.isLevelEnabled(level);
    }
    const { values } = this.parent.levels;
    return (values[level] ?? 0) >= (values[routeLevel] ?? 0);
  }

  declare fatal: LogMethod;
  declare error: LogMethod;
  declare warn: LogMethod;
  declare info: LogMethod;
  declare debug: LogMethod;
  declare trace: LogMethod;

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#child().child(bindings, options);
  }
}

// One method per level on the prototype (not a closure per request), each passing its level on.
for (const level of LEVELS) {
  LazyRequestLogger.prototype[level] = function (this: LazyRequestLogger, ...args: unknown[]) {
    this.log(level, args);
  };
}

/**
 * Fastify's `childLoggerFactory`: a lazy child per request. The logger Fastify passes is the server's
 * `loggerInstance` (or a plugin's child of it), always pino (logger.ts).
 */
export const lazyChildLoggerFactory = (
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger => new LazyRequestLogger(logger as Logger, bindings, opts);
