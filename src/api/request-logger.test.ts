import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { LazyRequestLogger, lazyChildLoggerFactory } from './request-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line));
      }
      cb();
    },
  });
  return { lines, logger: createLogger({ level, destination }) };
}

describe('lazy request logger', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function server(level: string) {
    const { lines, logger } = capture(level);
    const app = Fastify({ loggerInstance: logger, childLoggerFactory: lazyChildLoggerFactory });
    app.get('/quiet', async (req) => {
      req.log.info('below the level');
      return { ok: true };
    });
    app.get('/warns', async (req) => {
      req.log.warn({ token: 'SECRET-1', email: 'kept@example.com' }, 'something odd');
      req.log.child({ step: 'inner' }).error('inner failure');
      return { ok: true };
    });
    app.get('/errors-only', { logLevel: 'error' }, async (req) => {
      req.log.warn('below the route level');
      req.log.error('at the route level');
      return { ok: true };
    });
    app.get('/throws', async () => {
      throw new Error('boom');
    });
    await app.ready();
    close = () => app.close();
    return { app, lines };
  }

  it('writes every enabled line with the request id, redacted as before', async () => {
    const { app, lines } = await server('warn');
    const res = await app.inject({ url: '/warns', headers: { 'x-request-id': 'r-1' } });
    expect(res.statusCode).toBe(200);
    const warn = lines.find((l) => l.msg === 'something odd');
    expect(warn).toMatchObject({ level: 40, reqId: expect.any(String), email: 'kept@example.com' });
    expect(JSON.stringify(lines)).not.toContain('SECRET-1');
    const inner = lines.find((l) => l.msg === 'inner failure');
    expect(inner).toMatchObject({ level: 50, reqId: warn?.reqId, step: 'inner' });
  });

  it("keeps a route's own log level (Fastify's child options reach the child)", async () => {
    const { app, lines } = await server('info');
    await app.inject({ url: '/errors-only' });
    expect(lines.map((l) => l.msg)).toEqual(['at the route level']);
  });

  it("logs a route's unhandled error with its request id", async () => {
    const { app, lines } = await server('warn');
    const res = await app.inject({ url: '/throws' });
    expect(res.statusCode).toBe(500);
    const failed = lines.find((l) => (l.err as { message?: string } | undefined)?.message === 'boom');
    expect(failed).toMatchObject({ level: 50, reqId: expect.any(String) });
  });

  it('writes nothing, and makes no child, for lines below the level', async () => {
    const { app, lines } = await server('warn');
    expect((await app.inject({ url: '/quiet' })).statusCode).toBe(200);
    expect(lines).toEqual([]);

    const { logger } = capture('warn');
    let children = 0;
    const counting = Object.assign(Object.create(logger), {
      child: (...args: Parameters<typeof logger.child>) => {
        children += 1;
        return logger.child(...args);
      },
    });
    const lazy = new LazyRequestLogger(counting, { reqId: 'r-2' }, {});
    lazy.info('not written');
    lazy.debug('not written');
    expect(children).toBe(0);
    expect(lazy.level).toBe('warn');
    lazy.warn('written');
    lazy.error('written too');
    expect(children).toBe(1);
  });

  it('at info, Fastify’s own request lines carry the request id', async () => {
    const { app, lines } = await server('info');
    await app.inject({ url: '/quiet' });
    const ids = new Set(lines.map((l) => l.reqId));
    expect(lines.map((l) => l.msg)).toEqual(['incoming request', 'below the level', 'request completed']);
    expect(ids.size).toBe(1);
    expect([...ids][0]).toEqual(expect.any(String));
  });
});
