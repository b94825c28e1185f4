import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createShutdown, exitOnSignals } from '../lib/shutdown.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../sandbox/index.js';

type RawOptions = {
  host: string;
  port: string;
  seed: string;
  users: string;
  rooms: string;
  provider: string;
  keyFile?: string;
  latency: string;
  jitter: string;
  rate429: string;
  rate500: string;
  rate503: string;
  rateTimeout: string;
  quotas: boolean;
  graphLinkOrigin?: string;
};

class BadArgument extends Error {}

function int(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new BadArgument(`--${name} must be an integer between ${min} and ${max} (got "${raw}")`);
  }
  return Number(raw);
}

function share(name: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new BadArgument(`--${name} must be a number between 0 and 1 (got "${raw}")`);
  }
  return n;
}

/** Command-line options to SandboxOptions, or a BadArgument naming the first bad one. */
export function sandboxOptionsFrom(raw: RawOptions): SandboxOptions & { keyFile?: string } {
  if (!['google', 'microsoft', 'both'].includes(raw.provider)) {
    throw new BadArgument(`--provider must be google, microsoft or both (got "${raw.provider}")`);
  }
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(raw.seed)) {
    throw new BadArgument('--seed must be 1–64 letters, digits, dots, dashes or underscores');
  }
  if (raw.graphLinkOrigin !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(raw.graphLinkOrigin)) {
    throw new BadArgument('--graph-link-origin must be an origin such as https://graph.microsoft.com');
  }
  const size = {
    users: int('users', raw.users, 1, 10_000_000),
    rooms: int('rooms', raw.rooms, 0, 10_000_000),
  };
  const faults = {
    latencyMs: int('latency', raw.latency, 0, 600_000),
    jitterMs: int('jitter', raw.jitter, 0, 600_000),
    rate429: share('rate-429', raw.rate429),
    rate500: share('rate-500', raw.rate500),
    rate503: share('rate-503', raw.rate503),
    rateTimeout: share('rate-timeout', raw.rateTimeout),
  };
  if (faults.rate429 + faults.rate500 + faults.rate503 + faults.rateTimeout > 1) {
    throw new BadArgument('the --rate-* options must add up to at most 1');
  }
  return {
    host: raw.host,
    port: int('port', raw.port, 0, 65_535),
    seed: /^\d+$/.test(raw.seed) ? Number(raw.seed) : raw.seed,
    google: raw.provider === 'microsoft' ? false : size,
    microsoft: raw.provider === 'google' ? false : size,
    faults,
    quotas: raw.quotas,
    ...(raw.graphLinkOrigin === undefined ? {} : { graphLinkOrigin: raw.graphLinkOrigin }),
    ...(raw.keyFile === undefined ? {} : { keyFile: resolve(raw.keyFile) }),
  };
}

function describe(sb: Sandbox, seed: SandboxOptions['seed'], keyFile: string | undefined): string {
  const lines = [`Sandbox provider listening on ${sb.url} (seed ${String(seed)})`, ''];
  if (sb.google) {
    lines.push(
      'Google Workspace (service account with domain-wide delegation)',
      `  domain:        ${sb.google.domain}`,
      `  admin email:   ${sb.google.adminEmail}`,
      `  customer id:   ${sb.google.customerId}`,
      `  client email:  ${sb.google.serviceAccountKey.client_email}`,
      `  key file:      ${keyFile}`,
      '',
    );
  }
  if (sb.microsoft) {
    lines.push(
      'Microsoft 365 (Entra app, client credentials)',
      `  domain:        ${sb.microsoft.domain}`,
      `  tenant id:     ${sb.microsoft.tenantId}`,
      `  client id:     ${sb.microsoft.clientId}`,
      `  client secret: ${sb.microsoft.clientSecret}`,
      '',
    );
  }
  lines.push(
    'Point the service at it:',
    `  export GOOGLE_TOKEN_URL=${sb.url}/token`,
    `  export GOOGLE_API_URL=${sb.url}`,
    `  export MICROSOFT_LOGIN_URL=${sb.url}`,
    `  export MICROSOFT_GRAPH_URL=${sb.url}`,
    '',
    `Control API: ${sb.url}/_sandbox/state (counters: ${sb.url}/_sandbox/counters)`,
    'Press Ctrl+C to stop.',
    '',
  );
  return lines.join('\n');
}

/** `ec sandbox`: the sandbox provider server (DESIGN §8). */
export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('run the sandbox Google Workspace / Microsoft 365 provider over HTTP')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'listen port (0 = random)', '8090')
    .option('--seed <seed>', 'organization seed: the same seed gives the same org', '1')
    .option('--users <n>', 'directory users per provider', '50')
    .option('--rooms <n>', 'rooms per provider', '10')
    .option('--provider <which>', 'google, microsoft or both', 'both')
    .option('--key-file <path>', 'where to write the Google service-account key JSON (default: a temp file)')
    .option('--latency <ms>', 'fixed latency added to every provider call', '0')
    .option('--jitter <ms>', 'random extra latency, up to this many ms', '0')
    .option('--rate-429 <share>', 'share of calls answered 429 with Retry-After', '0')
    .option('--rate-500 <share>', 'share of calls answered 500', '0')
    .option('--rate-503 <share>', 'share of calls answered 503', '0')
    .option('--rate-timeout <share>', 'share of calls held unanswered, then dropped', '0')
    .option('--no-quotas', 'do not enforce the providers\u2019 documented quotas')
    .option(
      '--graph-link-origin <origin>',
      'origin written into Graph @odata.nextLink (default: the sandbox URL)',
    )
    .action(async function (this: Command, raw: RawOptions) {
      let opts: ReturnType<typeof sandboxOptionsFrom>;
      try {
        opts = sandboxOptionsFrom(raw);
      } catch (err) {
        if (err instanceof BadArgument) {
          this.error(`error: ${err.message}`, { exitCode: 2, code: 'ec.sandbox.badArgument' });
        }
        throw err;
      }
      const { keyFile: keyFileOption, ...sandboxOptions } = opts;
      const sb = await startSandbox(sandboxOptions);
      let keyFile: string | undefined;
      if (sb.google) {
        const port = new URL(sb.url).port;
        keyFile =
          keyFileOption ??
          join(tmpdir(), `ec-sandbox-google-key-${String(sandboxOptions.seed)}-${port}.json`);
        await writeFile(keyFile, `${JSON.stringify(sb.google.serviceAccountKey, null, 2)}\n`, {
          mode: 0o600,
        });
      }
      process.stdout.write(describe(sb, sandboxOptions.seed, keyFile));
      const shutdown = createShutdown((name, err) => {
        process.stderr.write(`error closing ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      });
      shutdown.onClose('sandbox', () => sb.close());
      exitOnSignals(shutdown);
    });
}
