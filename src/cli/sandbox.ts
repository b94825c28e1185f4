import type { Command } from 'commander';

/** `ec sandbox`: the sandbox provider server (DESIGN §8). */
export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('run the sandbox Google Workspace / Microsoft 365 provider over HTTP')
    .action(() => {
      throw new Error('ec sandbox is not built yet');
    });
}
