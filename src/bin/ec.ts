import { Command, CommanderError } from 'commander';
import { registerAppsCommands } from '../cli/apps.js';
import { reportAndExit } from '../cli/context.js';
import { registerDemoCommand } from '../cli/demo.js';
import { registerDoctorCommand } from '../cli/doctor.js';
import { registerFailuresCommand } from '../cli/failures.js';
import { registerKeysCommands } from '../cli/keys.js';
import { registerMigrateCommand } from '../cli/migrate.js';
import { registerProcessCommands } from '../cli/processes.js';
import { registerQueuesCommand } from '../cli/queues.js';
import { registerRunCommands } from '../cli/runs.js';
import { registerSandboxCommand } from '../cli/sandbox.js';
import { registerSchedulerCommand } from '../cli/scheduler.js';

const program = new Command('ec')
  .description(
    'Enterprise Connect: onboard Google Workspace and Microsoft 365 calendars as Delegate Calendar Accounts',
  )
  .showHelpAfterError()
  .exitOverride();

registerMigrateCommand(program);
registerProcessCommands(program);
registerRunCommands(program);
registerQueuesCommand(program);
registerFailuresCommand(program);
registerDoctorCommand(program);
registerSchedulerCommand(program);
registerAppsCommands(program);
registerKeysCommands(program);
registerSandboxCommand(program);
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode);
  }
  reportAndExit(err);
}
