import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ ENCRYPTION_KEYS: KEY });
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', queuePrefix: 'ec', cluster: null });
    expect(config.http).toEqual({
      host: '127.0.0.1',
      port: 8080,
      publicUrl: 'http://127.0.0.1:8080',
      trustProxy: false,
    });
    expect(config.apiRateLimit).toEqual({ perSecond: 5_000, perMinute: 150_000 });
    expect(config.providers.googleTokenUrl).toBe('https://oauth2.googleapis.com/token');
    expect(config.providers.googleApiUrl).toBe('https://admin.googleapis.com');
    expect(config.providers.microsoftLoginUrl).toBe('https://login.microsoftonline.com');
    expect(config.providers.microsoftGraphUrl).toBe('https://graph.microsoft.com');
    expect(config.scheduler).toEqual({
      profileCheckIntervalSecs: 86_400,
      sweepIntervalSecs: 60,
      reconnectBackoffSecs: 300,
      directorySyncIntervalSecs: 3_600,
    });
    expect(config.outbound.allowPrivate).toBe(false);
    expect(config.logLevel).toBe('info');
    expect(config.usingDemoKey).toBe(false);
    expect(config.encryptionKeys.map((k) => k.id)).toEqual(['k1']);
  });

  it('reports every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://x',
        PORT: 'eighty',
        GOOGLE_API_URL: 'ftp://example.com',
        SWEEP_INTERVAL_SECONDS: '-5',
        OUTBOUND_ALLOW_PRIVATE: 'maybe',
        LOG_LEVEL: 'loud',
        ENCRYPTION_KEYS: 'k1:short',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const names = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(names.sort()).toEqual(
      [
        'DATABASE_URL',
        'ENCRYPTION_KEYS',
        'GOOGLE_API_URL',
        'LOG_LEVEL',
        'OUTBOUND_ALLOW_PRIVATE',
        'PORT',
        'SWEEP_INTERVAL_SECONDS',
      ].sort(),
    );
  });

  it('requires ENCRYPTION_KEYS in production but not in demo or test mode', () => {
    expect(() => loadConfig({})).toThrow(/ENCRYPTION_KEYS: required/);
    const demo = loadConfig({}, 'demo');
    expect(demo.usingDemoKey).toBe(true);
    expect(demo.encryptionKeys[0]?.key.length).toBe(32);
  });

  it('parses a keyring with several keys, first one first, and rejects duplicates', () => {
    const other = `k0:${Buffer.alloc(32, 1).toString('base64')}`;
    expect(loadConfig({ ENCRYPTION_KEYS: `${KEY},${other}` }).encryptionKeys.map((k) => k.id)).toEqual([
      'k1',
      'k0',
    ]);
    expect(() => loadConfig({ ENCRYPTION_KEYS: `${KEY},${KEY}` })).toThrow(/appears twice/);
  });

  it('treats empty variables as unset and strips trailing slashes from URLs', () => {
    const config = loadConfig(
      {
        ENCRYPTION_KEYS: KEY,
        PORT: '',
        MICROSOFT_GRAPH_URL: 'http://127.0.0.1:9000/',
        PUBLIC_URL: 'https://ec.example.com/',
      },
      'production',
    );
    expect(config.http.port).toBe(8080);
    expect(config.providers.microsoftGraphUrl).toBe('http://127.0.0.1:9000');
    expect(config.http.publicUrl).toBe('https://ec.example.com');
  });

  it('accepts true/false spellings for booleans', () => {
    expect(loadConfig({ ENCRYPTION_KEYS: KEY, OUTBOUND_ALLOW_PRIVATE: 'true' }).outbound.allowPrivate).toBe(
      true,
    );
    expect(loadConfig({ ENCRYPTION_KEYS: KEY, OUTBOUND_ALLOW_PRIVATE: '0' }).outbound.allowPrivate).toBe(
      false,
    );
  });

  it('parses the API rate limits and rejects ones that are not positive whole numbers', () => {
    const config = loadConfig({
      ENCRYPTION_KEYS: KEY,
      API_RATE_LIMIT_PER_SECOND: '50',
      API_RATE_LIMIT_PER_MINUTE: '1500',
    });
    expect(config.apiRateLimit).toEqual({ perSecond: 50, perMinute: 1500 });
    let error: unknown;
    try {
      loadConfig({ ENCRYPTION_KEYS: KEY, API_RATE_LIMIT_PER_SECOND: '0', API_RATE_LIMIT_PER_MINUTE: '1.5' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'API_RATE_LIMIT_PER_MINUTE',
      'API_RATE_LIMIT_PER_SECOND',
    ]);
  });

  it('trusts no proxy unless TRUST_PROXY lists IPs or CIDRs', () => {
    expect(loadConfig({ ENCRYPTION_KEYS: KEY, TRUST_PROXY: '' }).http.trustProxy).toBe(false);
    expect(
      loadConfig({ ENCRYPTION_KEYS: KEY, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8,::1' }).http.trustProxy,
    ).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1']);
  });

  it('names every TRUST_PROXY entry that is not an IP or CIDR, alongside other bad variables', () => {
    let error: unknown;
    try {
      loadConfig({
        ENCRYPTION_KEYS: KEY,
        PORT: 'eighty',
        TRUST_PROXY: '10.0.0.0/8,proxy.internal,10.0.0.0/33,::1/129,1.2.3.4/8/8,true',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.filter((p) => p.startsWith('PORT:'))).toHaveLength(1);
    const proxy = problems.filter((p) => p.startsWith('TRUST_PROXY:')).join('\n');
    for (const bad of ['proxy.internal', '10.0.0.0/33', '::1/129', '1.2.3.4/8/8', 'true']) {
      expect(proxy).toContain(`"${bad}"`);
    }
    expect(proxy).not.toContain('"10.0.0.0/8"');
  });
});

describe('the scale-out variables (REDIS_CLUSTER_NODES, DATABASE_POOL_MODE, WORKER_HEALTH_PORT)', () => {
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env, 'test');
    } catch (err) {
      return (err as ConfigError).problems;
    }
    return [];
  };

  it('is standalone Redis, session pooling and no health port by default', () => {
    const c = loadConfig({}, 'test');
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:6379', queuePrefix: 'ec', cluster: null });
    expect(c.databasePoolMode).toBe('session');
    expect(c.worker.healthPort).toBeUndefined();
  });

  it('builds a cluster from REDIS_CLUSTER_NODES and hash-tags QUEUE_PREFIX', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-1:7001,[::1]:7002' }, 'test');
    expect(c.redis.cluster?.nodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-1', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(c.redis.queuePrefix).toBe('{ec}');
    // A prefix that already has a hash tag is kept as it is.
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: 'prod:{ec}' }, 'test').redis.queuePrefix,
    ).toBe('prod:{ec}');
    // Credentials and TLS come from REDIS_URL.
    const auth = loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'rediss://u:p%40ss@x:6380' }, 'test');
    expect(auth.redis.cluster).toMatchObject({ username: 'u', password: 'p@ss', tls: true });
  });

  it('reads a redis+cluster:// URL, and leaves a standalone prefix untagged', () => {
    const c = loadConfig({ REDIS_URL: 'redis+cluster://:pw@r1:7000,r2:7001', QUEUE_PREFIX: 'ecx' }, 'test');
    expect(c.redis.cluster).toEqual({
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
      ],
      username: undefined,
      password: 'pw',
      tls: false,
    });
    expect(c.redis.queuePrefix).toBe('{ecx}');
    expect(loadConfig({ QUEUE_PREFIX: 'ecx' }, 'test').redis.queuePrefix).toBe('ecx');
  });

  it('names bad values', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1,nope' })).toEqual([
      'REDIS_CLUSTER_NODES: "nope" is not host:port (expected host:port,host:port,…)',
    ]);
    expect(problemsOf({ REDIS_URL: 'redis+cluster://r1' })).toEqual(['REDIS_URL: "r1" is not host:port']);
    expect(
      problemsOf({ DATABASE_POOL_MODE: 'statement', WORKER_HEALTH_PORT: 'x' }).map((p) => p.split(':')[0]),
    ).toEqual(['WORKER_HEALTH_PORT', 'DATABASE_POOL_MODE']);
    const c = loadConfig({ DATABASE_POOL_MODE: 'transaction', WORKER_HEALTH_PORT: '9464' }, 'test');
    expect([c.databasePoolMode, c.worker.healthPort]).toEqual(['transaction', 9464]);
  });
});

describe('MICROSOFT_GRAPH_BATCHING', () => {
  it('is when-busy by default, always on request, and names a bad value', () => {
    expect(loadConfig({}, 'test').worker.graphBatching).toBe('when-busy');
    expect(loadConfig({ MICROSOFT_GRAPH_BATCHING: 'always' }, 'test').worker.graphBatching).toBe('always');
    expect(() => loadConfig({ MICROSOFT_GRAPH_BATCHING: 'sometimes' }, 'test')).toThrow(
      /MICROSOFT_GRAPH_BATCHING/,
    );
  });
});
