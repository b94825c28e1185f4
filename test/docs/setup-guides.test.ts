import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { googleDelegationScopes } from '../../src/providers/google/probe.js';
import { MICROSOFT_CHECK_PERMISSIONS } from '../../src/providers/microsoft/probe.js';
import { PERMISSION_CHECKS } from '../../src/providers/probe.js';

/** The setup guides stay in step with the code: the exact scope list, every permission, every check. */
describe('docs/setup-google.md and docs/setup-microsoft.md', () => {
  it('the Google guide gives exactly the scopes the product asks the delegation for, comma-separated', async () => {
    const guide = await readFile('docs/setup-google.md', 'utf8');
    expect(guide).toContain(`\n${googleDelegationScopes().join(',')}\n`);
    for (const scope of googleDelegationScopes()) {
      expect(guide).toContain(`| \`${scope.replace('https://www.googleapis.com/auth/', '')}\``);
    }
  });

  it('the Microsoft guide names every Graph permission a check needs', async () => {
    const guide = await readFile('docs/setup-microsoft.md', 'utf8');
    for (const permission of new Set(Object.values(MICROSOFT_CHECK_PERMISSIONS))) {
      expect(guide).toContain(`\`${permission}\``);
    }
  });

  it('both guides say how ec doctor shows each step, and cite the providers’ own documentation', async () => {
    for (const file of ['docs/setup-google.md', 'docs/setup-microsoft.md']) {
      const guide = await readFile(file, 'utf8');
      expect(guide.match(/`ec doctor`:/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
      const links = [...guide.matchAll(/^\[[a-z-]+\]: (https:\/\/\S+)$/gm)].map((m) => m[1] ?? '');
      expect(links.length).toBeGreaterThanOrEqual(8);
      expect(
        links.every((u) =>
          /^https:\/\/(support\.google\.com|developers\.google\.com|cloud\.google\.com|learn\.microsoft\.com)\//.test(
            u,
          ),
        ),
      ).toBe(true);
    }
    const all =
      (await readFile('docs/setup-google.md', 'utf8')) + (await readFile('docs/setup-microsoft.md', 'utf8'));
    for (const check of PERMISSION_CHECKS) {
      expect(all).toContain(`\`${check}\``);
    }
  });
});
