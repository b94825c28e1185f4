import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryProvider } from '../../src/providers/types.js';
import { type Sandbox, type SandboxRoom, startSandbox } from '../../src/sandbox/index.js';
import { microsoftCredentials, providerFor, sandboxUrls } from './helpers.js';

// More rooms than one Graph page holds (999): the room index follows two pages of `/places` and of
// disabled accounts, asking the next page of disabled accounts while this one's candidates are checked.
let sb: Sandbox;
let ms: DirectoryProvider;

beforeAll(async () => {
  sb = await startSandbox({
    seed: 'microsoft-room-index',
    google: false,
    microsoft: { users: 100, rooms: 1_100, shapes: true },
  });
  ms = providerFor(microsoftCredentials(sb), sandboxUrls(sb));
});

afterAll(async () => {
  await ms?.close();
  await sb?.close();
});

async function all<T>(list: (cursor: string | null) => Promise<{ items: T[]; nextCursor: string | null }>) {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: T[]; nextCursor: string | null } = await list(cursor);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

describe('the Microsoft room index over many small pages', () => {
  it('finds every equipment mailbox and every room, and lists none of them among users', async () => {
    const rooms: SandboxRoom[] = [];
    for (let offset = 0; ; offset += 1_000) {
      const got = (await sb.control.listRooms('microsoft', { offset, limit: 1_000 })).rooms as SandboxRoom[];
      rooms.push(...got);
      if (got.length < 1_000) {
        break;
      }
    }
    expect(rooms.length).toBeGreaterThan(999);
    const equipment = rooms.filter((r) => r.category === 'OTHER');
    expect(equipment.length).toBeGreaterThan(1);
    const listedRooms = await all((c) => ms.listRoomsPage(c));
    expect(new Set(listedRooms.map((r) => r.email.toLowerCase()))).toEqual(
      new Set(rooms.map((r) => r.email.toLowerCase())),
    );
    for (const e of equipment) {
      expect(
        listedRooms.find((r) => r.email.toLowerCase() === e.email.toLowerCase())?.resourceKind,
        e.email,
      ).toBe('equipment');
    }
    const users = await all((c) => ms.listUsersPage(c));
    const roomEmails = new Set(rooms.map((r) => r.email.toLowerCase()));
    expect(users.length).toBeGreaterThan(0);
    expect(users.filter((u) => roomEmails.has(u.email.toLowerCase()))).toEqual([]);
  });
});
