/**
 * `npm run bench [-- <name> [options]]`: runs the benchmarks (all, or the one named) and prints their
 * figures as JSON (also written to bench/results/).
 */
import { execFileSync } from 'node:child_process';
import { runAndReport as availability } from './availability.js';
import { EC_MODE } from './common.js';
import { runAndReport as handoff } from './handoff.js';
import { runAndReport as profileSweep } from './profile-sweep.js';
import { runAndReport as provisioning } from './provisioning.js';
import { runAndReport as throughput } from './throughput.js';
import { runAndReport as userinfo } from './userinfo.js';

const BENCHES: Record<string, (argv: string[]) => Promise<void>> = {
  availability,
  handoff,
  'profile-sweep': profileSweep,
  provisioning,
  throughput,
  userinfo,
};

if (EC_MODE === 'dist') {
  // The compiled `ec` the Docker image runs: built from this checkout first, so it is never stale.
  execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

const [name, ...rest] = process.argv.slice(2);
const selected = name && !name.startsWith('--') ? [name] : Object.keys(BENCHES);
const argv = name && !name.startsWith('--') ? rest : process.argv.slice(2);
for (const bench of selected) {
  const run = BENCHES[bench];
  if (!run) {
    process.stderr.write(`unknown benchmark "${bench}"; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  await run(argv);
}
process.exit(0);
