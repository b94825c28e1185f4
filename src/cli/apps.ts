import type { Command } from 'commander';
import { listApplications } from '../db/queries/applications.js';
import { ValidationError } from '../errors.js';
import {
  createApplication,
  removeOldSecrets,
  rotateSecret,
  updateApplication,
} from '../services/applications.js';
import { limitsFor, type RateLimits } from '../services/rate-limit-keys.js';
import { cliConfig, withDeps, writeErr, writeOut } from './context.js';
import { renderTable } from './table.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--rate-limit`: requests per minute, or `default` / `0` for the configured default (null). */
function parseRateLimit(raw: string): number | null {
  const value = raw.trim().toLowerCase();
  if (value === 'default' || value === '0') {
    return null;
  }
  if (!/^\d+$/.test(value)) {
    throw new ValidationError(
      `--rate-limit must be a whole number of requests per minute, or "default" (got "${raw}")`,
      { rate_limit: ['invalid'] },
    );
  }
  return Number(value);
}

function describeLimit(defaults: RateLimits, override: number | null): string {
  const limits = limitsFor(defaults, override);
  const text = `${limits.perMinute}/min, ${limits.perSecond}/s`;
  return override === null ? `default (${text})` : text;
}

/** `ec apps …`: manage Applications (clients of this service). */
export function registerAppsCommands(program: Command): void {
  const apps = program.command('apps').description('manage Applications (API clients)');

  apps
    .command('create')
    .description('create an Application; its client secret is printed once and never stored in plain text')
    .requiredOption('--name <name>', 'a name people recognise')
    .option('--redirect-uri <uri>', 'an allowed redirect URI (repeat for more)', collect, [])
    .option('--json', 'print exactly {"client_id","client_secret"}')
    .action(async (opts: { name: string; redirectUri: string[]; json?: boolean }) => {
      const created = await withDeps((deps) =>
        createApplication(deps, { name: opts.name, redirectUris: opts.redirectUri, actor: 'cli' }),
      );
      if (opts.json) {
        writeOut(JSON.stringify({ client_id: created.clientId, client_secret: created.clientSecret }));
        return;
      }
      writeOut(
        [
          `Created Application "${created.application.name}" (${created.application.id})`,
          `  client_id:     ${created.clientId}`,
          `  client_secret: ${created.clientSecret}`,
          '',
          'Store the client secret now: it is not shown again.',
        ].join('\n'),
      );
    });

  apps
    .command('list')
    .description('list Applications')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withDeps((deps) => listApplications(deps.db));
      const defaults = cliConfig().apiRateLimit;
      if (opts.json) {
        writeOut(
          JSON.stringify(
            rows.map((a) => ({
              id: a.id,
              name: a.name,
              client_id: a.clientId,
              redirect_uris: a.redirectUris,
              active_secrets: a.activeSecrets,
              rate_limit_per_minute: a.rateLimitPerMinute,
              created_at: a.createdAt.toISOString(),
            })),
          ),
        );
        return;
      }
      if (rows.length === 0) {
        writeOut('No Applications yet. Create one with `ec apps create --name N --redirect-uri U`.');
        return;
      }
      writeOut(
        renderTable(
          ['id', 'name', 'client_id', 'secrets', 'rate limit', 'redirect URIs', 'created'],
          rows.map((a) => [
            a.id,
            a.name,
            a.clientId,
            String(a.activeSecrets),
            describeLimit(defaults, a.rateLimitPerMinute),
            a.redirectUris.join(' '),
            a.createdAt.toISOString(),
          ]),
        ),
      );
    });

  apps
    .command('update')
    .description("change an Application's settings")
    .requiredOption('--client-id <id>', 'the Application')
    .option(
      '--rate-limit <n>',
      'API requests per minute (its per-second limit scales alike); "default" or 0 for API_RATE_LIMIT_PER_MINUTE',
    )
    .option('--redirect-uri <uri>', 'the allowed redirect URIs (repeat for more; replaces the list)', collect)
    .action(async (opts: { clientId: string; rateLimit?: string; redirectUri?: string[] }) => {
      if (opts.rateLimit === undefined && opts.redirectUri === undefined) {
        throw new ValidationError(
          'nothing to update: give --rate-limit N (or --rate-limit default), or --redirect-uri U (repeatable)',
        );
      }
      const rateLimitPerMinute = opts.rateLimit === undefined ? undefined : parseRateLimit(opts.rateLimit);
      const updated = await withDeps((deps) =>
        updateApplication(deps, {
          clientId: opts.clientId,
          ...(rateLimitPerMinute === undefined ? {} : { rateLimitPerMinute }),
          ...(opts.redirectUri === undefined ? {} : { redirectUris: opts.redirectUri }),
          actor: 'cli',
        }),
      );
      const limit = describeLimit(cliConfig().apiRateLimit, updated.rateLimitPerMinute);
      writeOut(
        `Updated Application "${updated.name}" (${updated.id}): rate limit ${limit}; redirect URIs ${updated.redirectUris.join(' ') || 'none'}`,
      );
      writeErr('Running API processes apply it within a minute.');
    });

  apps
    .command('rotate-secret')
    .description('add a new client secret; older ones stay valid until `ec apps remove-old-secrets`')
    .requiredOption('--client-id <id>', 'the Application')
    .option('--json', 'print exactly {"client_id","client_secret"}')
    .action(async (opts: { clientId: string; json?: boolean }) => {
      const rotated = await withDeps((deps) => rotateSecret(deps, { clientId: opts.clientId, actor: 'cli' }));
      if (opts.json) {
        writeOut(JSON.stringify({ client_id: rotated.clientId, client_secret: rotated.clientSecret }));
        return;
      }
      writeOut(`New client_secret: ${rotated.clientSecret}`);
      writeErr(
        `${rotated.activeSecrets} secrets are now active; callbacks carry one signature per active secret. ` +
          'Once every client uses the new one, run `ec apps remove-old-secrets`.',
      );
    });

  apps
    .command('remove-old-secrets')
    .description('revoke every client secret of an Application except the newest')
    .requiredOption('--client-id <id>', 'the Application')
    .action(async (opts: { clientId: string }) => {
      const { revoked } = await withDeps((deps) =>
        removeOldSecrets(deps, { clientId: opts.clientId, actor: 'cli' }),
      );
      writeOut(`Revoked ${revoked} old secret(s).`);
    });
}
