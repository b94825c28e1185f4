#!/usr/bin/env node
// Keeps package-lock.json acceptable to `npm ci` when the registry this project installs from serves
// only some platforms' builds of a package's optional, platform-specific dependencies (biome,
// esbuild, msgpackr-extract …). `npm install` then leaves the unavailable ones out of the lock, and
// `npm ci` refuses a lock that misses a declared dependency. This adds each missing optional
// dependency as an optional entry; `npm ci` tries it, cannot fetch it and skips it, as npm does for
// any optional dependency that fails. Run it after `npm install` changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [where, pkg] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const nested = `${where ? `${where}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) {
      continue;
    }
    packages[hoisted] = {
      version: String(range).replace(/^[\^~=]/, ''),
      ...(pkg.dev ? { dev: true } : {}),
      optional: true,
    };
    added += 1;
  }
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`package-lock.json: ${added} missing optional dependencies recorded\n`);
