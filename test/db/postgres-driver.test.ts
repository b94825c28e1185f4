import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// scripts/patch-postgres.mjs (postinstall) fixes postgres.js's write scheduler, which otherwise kills
// the process when Postgres restarts (found by the chaos suite). An install without it fails here.
describe('the postgres.js driver as installed', () => {
  it.each(['src/connection.js', 'cjs/src/connection.js'])('%s has the nextWrite guard', (file) => {
    const text = readFileSync(new URL(`../../node_modules/postgres/${file}`, import.meta.url), 'utf8');
    expect(text).toContain('/* ec: patched nextWrite */');
    expect(text).not.toMatch(/clearImmediate\(nextWriteTimer\)\n(?!\s+chunk = nextWriteTimer = null)/);
  });
});
