import type { Command } from 'commander';
import { listApplications } from '../db/queries/applications.js';
import { createApplication, removeOldSecrets, rotateSecret } from '../services/applications.js';
import { withDeps, writeErr, writeOut } from './context.js';
import { renderTable } from './table.js';

const collect = (value: string, previous: string[]) => [...previous, value];

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
      if (opts.json) {
        writeOut(
          JSON.stringify(
            rows.map((a) => ({
              id: a.id,
              name: a.name,
              client_id: a.clientId,
              redirect_uris: a.redirectUris,
              active_secrets: a.activeSecrets,
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
          ['id', 'name', 'client_id', 'secrets', 'redirect URIs', 'created'],
          rows.map((a) => [
            a.id,
            a.name,
            a.clientId,
            String(a.activeSecrets),
            a.redirectUris.join(' '),
            a.createdAt.toISOString(),
          ]),
        ),
      );
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
