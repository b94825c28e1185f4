import { isIP } from 'node:net';
import { z } from 'zod';
import {
  clusterOfNodes,
  hashTaggedPrefix,
  parseClusterUrl,
  parseRedisNodes,
  type RedisClusterTarget,
} from './lib/redis.js';

/**
 * The whole configuration of every process, parsed once from the environment at the entry points
 * (DESIGN §4; the variable names are pinned). Nothing below `src/bin` and `src/cli` reads `process.env`.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const wholeNumber = (fallback: number, unit = '') =>
  z.coerce
    .number({ error: `must be a whole number${unit}` })
    .int(`must be a whole number${unit}`)
    .positive('must be greater than 0')
    .default(fallback);
const seconds = (fallback: number) => wholeNumber(fallback, ' of seconds');

const httpUrl = (fallback: string) =>
  z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .default(fallback)
    .transform((u) => u.replace(/\/+$/, ''));

/** Comma-separated IPs or CIDRs (`10.0.0.0/8`, `fd00::/8`) of proxies whose X-Forwarded-For is believed. */
const proxyList = z.string().transform((raw, ctx) => {
  const entries = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', bits, extra] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const badBits = bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits);
    if (family === 0 || badBits || extra !== undefined) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not an IP address or CIDR` });
    }
  }
  return entries;
});

/** `id:base64key` pairs, comma-separated; every key is 32 bytes (AES-256). */
const keyring = z.string().transform((raw, ctx) => {
  const keys: { id: string; key: Buffer }[] = [];
  let bad = 0;
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const sep = part.indexOf(':');
    const id = sep > 0 ? part.slice(0, sep) : '';
    const key = Buffer.from(part.slice(sep + 1), 'base64');
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      bad += 1;
      ctx.addIssue({ code: 'custom', message: 'each entry must be id:base64key, id of [A-Za-z0-9_-]' });
    } else if (key.length !== 32) {
      bad += 1;
      ctx.addIssue({ code: 'custom', message: `key "${id}" must decode to 32 bytes (got ${key.length})` });
    } else if (keys.some((k) => k.id === id)) {
      bad += 1;
      ctx.addIssue({ code: 'custom', message: `key id "${id}" appears twice` });
    } else {
      keys.push({ id, key });
    }
  }
  if (keys.length === 0 && bad === 0) {
    ctx.addIssue({ code: 'custom', message: 'must hold at least one id:base64key entry' });
  }
  return keys;
});

const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/postgres'),
  // `ec migrate` only: a direct Postgres URL when DATABASE_URL goes through PgBouncer.
  MIGRATE_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?(\+cluster)?:\/\//, 'must be a redis://, rediss:// or redis+cluster://host:port,… URL')
    .default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((raw, ctx) => {
      const nodes = parseRedisNodes(raw);
      if (typeof nodes === 'string') {
        ctx.addIssue({ code: 'custom', message: `${nodes} (expected host:port,host:port,…)` });
        return [];
      }
      return nodes;
    })
    .optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:{}-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_:{}-]')
    .default('ec'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(8080),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  ENCRYPTION_KEYS: keyring.optional(),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  GOOGLE_TOKEN_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .default('https://oauth2.googleapis.com/token'),
  GOOGLE_API_URL: httpUrl('https://admin.googleapis.com'),
  MICROSOFT_LOGIN_URL: httpUrl('https://login.microsoftonline.com'),
  MICROSOFT_GRAPH_URL: httpUrl('https://graph.microsoft.com'),
  PROFILE_CHECK_INTERVAL_SECONDS: seconds(86_400),
  SWEEP_INTERVAL_SECONDS: seconds(60),
  RECONNECT_BACKOFF_SECONDS: seconds(300),
  DIRECTORY_SYNC_INTERVAL_SECONDS: seconds(3_600),
  OUTBOUND_ALLOW_PRIVATE: bool.default(false),
  WORKER_LOCK_SECONDS: seconds(30),
  PROVIDER_CALLS_IN_FLIGHT: z.coerce
    .number({ error: 'must be a whole number' })
    .int()
    .min(1)
    .max(5_000)
    .default(200),
  MICROSOFT_GRAPH_BATCH_SIZE: z.coerce
    .number({ error: 'must be a whole number' })
    .int()
    .min(1)
    .max(20)
    .default(4),
  MICROSOFT_GRAPH_BATCHING: z.enum(['when-busy', 'always']).default('when-busy'),
  RETENTION_DAYS: z.coerce.number({ error: 'must be a number of days' }).int().min(1).max(36_500).default(90),
  AUDIT_RETENTION_DAYS: z.coerce
    .number({ error: 'must be a number of days' })
    .int()
    .min(1)
    .max(36_500)
    .default(365),
  WORKER_HEALTH_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).optional(),
  DATABASE_POOL_MODE: z.enum(['session', 'transaction']).default('session'),
  // Sized so one Application redeems a 100,000-account run well within its codes' 10 minutes.
  API_RATE_LIMIT_PER_SECOND: wholeNumber(5_000),
  API_RATE_LIMIT_PER_MINUTE: wholeNumber(150_000),
  TRUST_PROXY: proxyList.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every environment variable the service reads (the deploy files' tests check theirs against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

/**
 * Where the process runs. `demo` and `test` may run without `ENCRYPTION_KEYS` (a fixed, publicly known
 * demo key is used and a warning logged); `production` may not.
 */
export type ConfigMode = 'production' | 'demo' | 'test';

export type EncryptionKey = { id: string; key: Buffer };

export type Config = {
  mode: ConfigMode;
  databaseUrl: string;
  /** What `ec migrate` connects to: MIGRATE_DATABASE_URL (straight to Postgres), else `databaseUrl`. */
  migrateDatabaseUrl: string;
  /** `transaction` behind PgBouncer in transaction mode: no prepared statements. */
  databasePoolMode: 'session' | 'transaction';
  /**
   * `cluster` when REDIS_CLUSTER_NODES or a `redis+cluster://` REDIS_URL names one; then `queuePrefix`
   * is hash-tagged (`ec` → `{ec}`) so every key of the deployment hashes to one slot.
   */
  redis: { url: string; queuePrefix: string; cluster: RedisClusterTarget | null };
  /** `trustProxy`: the proxies whose X-Forwarded-For is believed; false (the default) believes none. */
  http: { host: string; port: number; publicUrl: string; trustProxy: string[] | false };
  /** Requests per Application (unknown callers: per address) in each window. */
  apiRateLimit: { perSecond: number; perMinute: number };
  encryptionKeys: EncryptionKey[];
  /** True when the keyring is the built-in demo key (never safe for real data). */
  usingDemoKey: boolean;
  adminToken: string | undefined;
  /** The token for `/metrics` (the API's and the health port's): METRICS_TOKEN, else ADMIN_TOKEN. */
  metricsToken: string | undefined;
  providers: {
    googleTokenUrl: string;
    googleApiUrl: string;
    microsoftLoginUrl: string;
    microsoftGraphUrl: string;
  };
  scheduler: {
    profileCheckIntervalSecs: number;
    sweepIntervalSecs: number;
    reconnectBackoffSecs: number;
    directorySyncIntervalSecs: number;
  };
  outbound: { allowPrivate: boolean };
  /** How long a job's lock lasts without renewal: a killed worker's jobs run again after about this long. */
  worker: {
    lockSecs: number;
    healthPort: number | undefined;
    providerCallsInFlight: number;
    /** Microsoft mailbox reads per Graph JSON batch, at most (1: no batching). */
    graphBatchSize: number;
    /** Batch them only while the machine is short of CPU (`when-busy`), or always. */
    graphBatching: 'when-busy' | 'always';
  };
  /** Days delivered deliveries and finished runs' items are kept (`days`), and audit events (`auditDays`). */
  retention: { days: number; auditDays: number };
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
};

/** The demo keyring. Public on purpose: it only protects sandbox data. */
export const DEMO_ENCRYPTION_KEYS = 'demo:ZGVtby1rZXktbm90LWZvci1yZWFsLWRhdGEtMDAwMDA=';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError naming every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv, mode: ConfigMode = 'production'): Config {
  // Empty strings mean "unset" so that `FOO= ec api` behaves like no FOO at all.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    }
  }
  if (cleaned.ENCRYPTION_KEYS === undefined && mode === 'production') {
    problems.push(
      'ENCRYPTION_KEYS: required (generate one with `ec keys generate`, format id:base64key[,id:base64key])',
    );
  }
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const fromUrl = parseClusterUrl(e.REDIS_URL);
  if (typeof fromUrl === 'string') {
    throw new ConfigError([`REDIS_URL: ${fromUrl}`]);
  }
  const cluster: RedisClusterTarget | null = e.REDIS_CLUSTER_NODES
    ? clusterOfNodes(e.REDIS_CLUSTER_NODES, e.REDIS_URL)
    : fromUrl;
  const usingDemoKey = !e.ENCRYPTION_KEYS;
  const encryptionKeys = e.ENCRYPTION_KEYS ?? keyring.parse(DEMO_ENCRYPTION_KEYS);
  return {
    mode,
    databaseUrl: e.DATABASE_URL,
    migrateDatabaseUrl: e.MIGRATE_DATABASE_URL ?? e.DATABASE_URL,
    databasePoolMode: e.DATABASE_POOL_MODE,
    redis: {
      url: e.REDIS_URL,
      queuePrefix: cluster ? hashTaggedPrefix(e.QUEUE_PREFIX) : e.QUEUE_PREFIX,
      cluster,
    },
    http: {
      host: e.HOST,
      port: e.PORT,
      publicUrl: (e.PUBLIC_URL ?? `http://${e.HOST}:${e.PORT}`).replace(/\/+$/, ''),
      trustProxy: e.TRUST_PROXY?.length ? e.TRUST_PROXY : false,
    },
    apiRateLimit: { perSecond: e.API_RATE_LIMIT_PER_SECOND, perMinute: e.API_RATE_LIMIT_PER_MINUTE },
    encryptionKeys,
    usingDemoKey,
    adminToken: e.ADMIN_TOKEN,
    metricsToken: e.METRICS_TOKEN ?? e.ADMIN_TOKEN,
    providers: {
      googleTokenUrl: e.GOOGLE_TOKEN_URL,
      googleApiUrl: e.GOOGLE_API_URL,
      microsoftLoginUrl: e.MICROSOFT_LOGIN_URL,
      microsoftGraphUrl: e.MICROSOFT_GRAPH_URL,
    },
    scheduler: {
      profileCheckIntervalSecs: e.PROFILE_CHECK_INTERVAL_SECONDS,
      sweepIntervalSecs: e.SWEEP_INTERVAL_SECONDS,
      reconnectBackoffSecs: e.RECONNECT_BACKOFF_SECONDS,
      directorySyncIntervalSecs: e.DIRECTORY_SYNC_INTERVAL_SECONDS,
    },
    outbound: { allowPrivate: e.OUTBOUND_ALLOW_PRIVATE },
    worker: {
      lockSecs: e.WORKER_LOCK_SECONDS,
      healthPort: e.WORKER_HEALTH_PORT,
      providerCallsInFlight: e.PROVIDER_CALLS_IN_FLIGHT,
      graphBatchSize: e.MICROSOFT_GRAPH_BATCH_SIZE,
      graphBatching: e.MICROSOFT_GRAPH_BATCHING,
    },
    retention: { days: e.RETENTION_DAYS, auditDays: e.AUDIT_RETENTION_DAYS },
    logLevel: e.LOG_LEVEL,
  };
}
