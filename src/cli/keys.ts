import type { Command } from 'commander';
import { generateKeyringEntry } from '../lib/crypto.js';
import { rotateKeys } from '../services/keys.js';
import { withDeps, writeErr, writeOut } from './context.js';
import { renderTable } from './table.js';

/** `ec keys …`: the encryption keyring (ENCRYPTION_KEYS). */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('manage the encryption keyring (ENCRYPTION_KEYS)');

  keys
    .command('generate')
    .description('print a new key entry (id:base64key) to put first in ENCRYPTION_KEYS')
    .option('--id <id>', 'key id', `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`)
    .action((opts: { id: string }) => {
      writeOut(generateKeyringEntry(opts.id));
    });

  keys
    .command('rotate')
    .description('re-encrypt every stored secret under the first key of ENCRYPTION_KEYS')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await withDeps((deps) =>
        rotateKeys(deps, {
          actor: 'cli',
          onProgress: (table, done) => writeErr(`${table}: ${done} re-encrypted`),
        }),
      );
      if (opts.json) {
        writeOut(JSON.stringify(report));
        return;
      }
      writeOut(
        renderTable(
          ['table', 'column', 're-encrypted', 'remaining'],
          report.map((r) => [r.table, r.column, String(r.reencrypted), String(r.remaining)]),
        ),
      );
    });
}
