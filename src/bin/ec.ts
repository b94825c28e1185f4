import { Command, CommanderError } from 'commander';
import { reportAndExit } from '../cli/context.js';

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when that command runs: a command's module brings what it needs
 * (Fastify, BullMQ, the provider SDKs), so `ec apps list` or a refused argument does not pay for
 * loading `ec worker`'s. The order is the order of `ec --help`.
 */
const COMMANDS: readonly [names: readonly string[], load: () => Promise<Register>][] = [
  [['migrate'], async () => (await import('../cli/migrate.js')).registerMigrateCommand],
  [['api', 'worker'], async () => (await import('../cli/processes.js')).registerProcessCommands],
  [['onboard', 'runs'], async () => (await import('../cli/runs.js')).registerRunCommands],
  [['queues'], async () => (await import('../cli/queues.js')).registerQueuesCommand],
  [['failures'], async () => (await import('../cli/failures.js')).registerFailuresCommand],
  [['doctor'], async () => (await import('../cli/doctor.js')).registerDoctorCommand],
  [['scheduler'], async () => (await import('../cli/scheduler.js')).registerSchedulerCommand],
  [['apps'], async () => (await import('../cli/apps.js')).registerAppsCommands],
  [['keys'], async () => (await import('../cli/keys.js')).registerKeysCommands],
  [['sandbox'], async () => (await import('../cli/sandbox.js')).registerSandboxCommand],
  [['demo'], async () => (await import('../cli/demo.js')).registerDemoCommand],
];

const program = new Command('ec')
  .description(
    'Enterprise Connect: onboard Google Workspace and Microsoft 365 calendars as Delegate Calendar Accounts',
  )
  .showHelpAfterError()
  .exitOverride();

try {
  // The command is the first argument (the CLI has no global options). With none, or one that is not
  // a command (`--help`, a typo), every command is registered, for the full help or the suggestion.
  const named = process.argv[2];
  const only = COMMANDS.find(([names]) => named !== undefined && names.includes(named));
  for (const [, load] of only ? [only] : COMMANDS) {
    (await load())(program);
  }
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode);
  }
  reportAndExit(err);
}
