#!/usr/bin/env node
// Runs after `npm install` / `npm ci` (postinstall). postgres.js 3.4.9 — the latest release — has two
// defects in its write scheduler (src/connection.js) that our chaos suite hits when Postgres restarts:
//
// 1. A small write is flushed on a setImmediate; if the connection closes first, `nextWrite` calls
//    `socket.write` on a null socket and the TypeError, thrown from the immediate, kills the process
//    (porsager/postgres#1154, #1208; PRs #1168, #1176, #1209 not merged yet).
// 2. `closed()` and `terminate()` cancel that immediate without resetting `nextWriteTimer`, so the
//    reconnected connection never schedules a flush again (LanternOps/breeze#3225).
//
// The fix, as in those PRs: without a socket `nextWrite` writes nothing and rejects what waits on the
// connection with CONNECTION_CLOSED (a catchable error: the job or request is retried), and teardown
// forgets the buffered chunk and the timer. Idempotent; refuses to run (exit 1) when the code no longer looks as expected, so a new
// postgres.js version is checked by hand instead of patched blindly. Drop this once upstream is fixed.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('../node_modules/postgres/', import.meta.url);
const MARK = '/* ec: patched nextWrite */';
const files = ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js'].map(
  (f) => new URL(f, root),
);

let patched = 0;
for (const file of files) {
  if (!existsSync(file)) {
    continue;
  }
  let text = readFileSync(file, 'utf8');
  if (text.includes(MARK)) {
    continue;
  }
  const write = '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)';
  const teardown = '    clearImmediate(nextWriteTimer)\n';
  if (!text.includes(write) || text.split(teardown).length !== 3) {
    process.stderr.write(`patch-postgres: ${file.pathname} is not the expected postgres.js 3.4.x code\n`);
    process.exit(1);
  }
  text = text
    .replace(
      write,
      `  function nextWrite(fn) {\n    ${MARK}\n    if (socket === null) {\n      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return false\n    }\n    const x = socket.write(chunk, fn)`,
    )
    .replaceAll(teardown, '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n');
  writeFileSync(file, text);
  patched += 1;
}
if (patched > 0) {
  process.stdout.write(`patch-postgres: patched ${patched} file(s) of postgres.js\n`);
}
