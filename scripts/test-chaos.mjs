// `npm run test:chaos [-- --long] [vitest options]`: the crash tests of test/chaos/*.int.test.ts, then
// the scenarios with real processes (vitest.chaos.config.ts). `--long` runs the 5,000-user soak
// variants (CHAOS_LONG=1); every other argument goes to the second vitest run (e.g. `-t "Postgres"`).
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const long = args.includes('--long');
const rest = args.filter((a) => a !== '--long');
const env = { ...process.env, ...(long ? { CHAOS_LONG: '1' } : {}) };
const vitest = (vitestArgs) =>
  spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...vitestArgs], {
    stdio: 'inherit',
    env,
  }).status ?? 1;

const crash = vitest(['test/chaos']);
if (crash !== 0) {
  process.exit(crash);
}
process.exit(vitest(['--config', 'vitest.chaos.config.ts', ...rest]));
