import type { DbOrTx } from '../../src/db/client.js';
import { type DirectoryEntry, directoryEntries } from '../../src/db/schema/directory-entries.js';
import { newId } from '../../src/lib/ids.js';
import { seq } from './sequence.js';

export async function createDirectoryEntry(
  db: DbOrTx,
  serviceAccountId: string,
  overrides: Partial<typeof directoryEntries.$inferInsert> = {},
): Promise<DirectoryEntry> {
  const email = overrides.email ?? `user${seq()}@example.com`;
  const [row] = await db
    .insert(directoryEntries)
    .values({
      id: newId('directoryEntry'),
      serviceAccountId,
      kind: 'user',
      providerId: `p${seq()}`,
      name: 'Directory User',
      ...overrides,
      email,
      emailLower: overrides.emailLower ?? email.toLowerCase(),
    })
    .returning();
  if (!row) {
    throw new Error('factory insert failed');
  }
  return row;
}
