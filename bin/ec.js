#!/usr/bin/env node
// Entry point of the `ec` CLI. In a source checkout it runs the TypeScript sources through tsx;
// in a built image (no src/) it runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (existsSync(`${root}src/bin/ec.ts`)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/bin/ec.ts');
} else {
  await import('../dist/bin/ec.js');
}
