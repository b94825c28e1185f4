import { describe, expect, test } from 'vitest';
import { ConflictError, LazyCollection } from './collection.js';

type Item = { pos: number; email: string; id: string; name: string };

function collection(n: number, generated: number[] = []) {
  return new LazyCollection<Item>(
    n,
    (i) => {
      generated.push(i);
      return { pos: i, email: `user${i}@x.test`, id: `id-${i}`, name: `User ${i}` };
    },
    (key) => {
      const m = /^(?:user|id-)(\d+)/.exec(key);
      return m ? Number(m[1]) : undefined;
    },
  );
}

describe('LazyCollection', () => {
  test('generates only what a page reads (plus one peek)', () => {
    const generated: number[] = [];
    const c = collection(1_000_000, generated);
    const page = c.page(500_000, 3);
    expect(page.items.map((i) => i.pos)).toEqual([500_000, 500_001, 500_002]);
    expect(page.next).toBe(500_003);
    expect(generated).toEqual([500_000, 500_001, 500_002, 500_003]);
    expect(c.overlaySize).toBe(0);
  });

  test('finds by email or id, case-insensitively, and never a look-alike', () => {
    const c = collection(10);
    expect(c.find('USER3@X.TEST')?.pos).toBe(3);
    expect(c.find('id-7')?.pos).toBe(7);
    expect(c.find('user3@other.test')).toBeUndefined();
    expect(c.find('user12@x.test')).toBeUndefined();
  });

  test('deletes, patches and adds; positions (and so page tokens) stay put', () => {
    const c = collection(5);
    expect(c.remove('user1@x.test')).toBe(true);
    expect(c.remove('user1@x.test')).toBe(false);
    c.update('id-2', { name: 'Renamed' });
    const added = c.add((pos) => ({ pos, email: 'new@x.test', id: 'new', name: 'New' }));
    expect(added.pos).toBe(5);
    expect(() => c.add((pos) => ({ pos, email: 'USER0@x.test', id: 'other', name: 'Dup' }))).toThrow(
      ConflictError,
    );
    expect(c.liveCount).toBe(5);
    const first = c.page(0, 2);
    expect(first.items.map((i) => i.email)).toEqual(['user0@x.test', 'user2@x.test']);
    expect(first.items[1]?.name).toBe('Renamed');
    const rest = c.page(first.next ?? -1, 10);
    expect(rest.items.map((i) => i.email)).toEqual(['user3@x.test', 'user4@x.test', 'new@x.test']);
    expect(rest.next).toBeUndefined();
    expect(c.positionOf(1)).toBe(2);
  });

  test('the last page has no next position, even when only deleted items follow', () => {
    const c = collection(4);
    c.remove('user3@x.test');
    expect(c.page(0, 3).next).toBeUndefined();
    expect(c.page(0, 2, (i) => i.pos !== 2).next).toBeUndefined();
  });
});
